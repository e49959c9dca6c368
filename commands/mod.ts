/**
 * Every subcommand, in the order the root help lists them. Each service adds its own line here.
 * @module
 */
import type { Command } from "./command.ts";
import { mockCommand } from "./mock.ts";
import { startCommand } from "./start.ts";
import { httpBrokerCommand } from "./receiver/httpbroker.ts";
import { kclProxyCommand } from "./kcl_proxy.ts";
import { devCommand } from "./dev.ts";

/** Registered subcommands. */
export const commands: Command[] = [startCommand, mockCommand, httpBrokerCommand, kclProxyCommand, devCommand];
