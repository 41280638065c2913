import { parseArgs, type ParseArgsConfig } from 'node:util';

/**
 * node:util's parseArgs for a bench tool run from the command line: an unknown option, a
 * missing or dash-led value, or a stray argument prints `<tool>: <why>` and where its
 * usage is, and exits 2, instead of a stack trace with exit 1. The options' own values are
 * still the tool's to check.
 */
export function toolArgs<T extends ParseArgsConfig>(tool: string, config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (err) {
    const help = config.options && 'help' in config.options ? '--help' : `usage at the top of bench/${tool}.ts`;
    // Node's advice for a dash-led positional ends in an unbalanced quote: left out.
    const why = (err as Error).message.replace(/\. To specify a positional argument starting with a '-'.*$/s, '');
    console.error(`${tool}: ${why} (${help})`);
    process.exit(2);
  }
}
