import { existsSync } from 'node:fs';
import path from 'node:path';
import { defaultConfig, loadConfig, type ClusterConfig } from '../server/config.ts';

/** Where `raftkv cluster up` writes the config it started, for later commands to find. */
export const CLUSTER_FILE = path.join('data', 'cluster.json');

/**
 * The config a command means: --config if given, else the one the last `cluster up`
 * wrote, else the default 7 servers on 127.0.0.1.
 */
export function resolveConfig(configPath: string | undefined): { config: ClusterConfig; path: string | null } {
  if (configPath) return { config: loadConfig(configPath), path: path.resolve(configPath) };
  if (existsSync(CLUSTER_FILE)) return { config: loadConfig(CLUSTER_FILE), path: path.resolve(CLUSTER_FILE) };
  return { config: defaultConfig(), path: null };
}
