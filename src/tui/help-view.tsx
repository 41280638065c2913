import { Box, Text } from 'ink';
import { COMMANDS, usageOf, type CommandSpec } from './commands.ts';

interface HelpViewProps {
  launched: boolean;
  width: number;
}

/** The usage as the help screen shows it: the short form where the full one is too wide. */
function helpUsage(s: CommandSpec): string {
  return s.helpArgs !== undefined ? `${s.name} ${s.helpArgs}` : usageOf(s.name);
}

function Column({ title, specs, width, launched }: { title: string; specs: CommandSpec[]; width: number; launched: boolean }) {
  const usageWidth = Math.max(...specs.map((s) => helpUsage(s).length)) + 2;
  return (
    <Box flexDirection="column" width={width}>
      <Text bold>{title}</Text>
      {specs.map((s) => (
        <Text key={s.name} wrap="truncate-end" dimColor={!launched && s.launchedOnly}>
          {helpUsage(s).padEnd(usageWidth)}
          {s.summary}
        </Text>
      ))}
    </Box>
  );
}

/** Every command with a one-line summary, in two columns; keys at the bottom. */
export function HelpView({ launched, width }: HelpViewProps) {
  const half = Math.floor((width - 1) / 2);
  const data = COMMANDS.filter((c) => c.group === 'data');
  const other = COMMANDS.filter((c) => c.group !== 'data');
  return (
    <Box flexDirection="column" width={width} flexShrink={0}>
      <Text bold color="cyan" wrap="truncate-end">
        RaftKV terminal UI - help (Esc or Enter on an empty line closes it)
      </Text>
      <Box>
        <Column title="Data (any server answers)" specs={[...data, ...other.filter((c) => c.group === 'ui')]} width={half} launched={launched} />
        <Box flexDirection="column" width={width - half}>
          <Column title="Cluster" specs={other.filter((c) => c.group === 'cluster')} width={width - half} launched={launched} />
          <Column title="Membership (via the leader)" specs={other.filter((c) => c.group === 'members')} width={width - half} launched={launched} />
        </Box>
      </Box>
      <Text wrap="truncate-end">
        {'Keys: Tab completes, Up/Down history, Ctrl-U clears, Ctrl-C quits.'}
      </Text>
      <Text wrap="truncate-end" dimColor>
        {launched
          ? 'This UI launched the cluster: quit stops every server and the tracing server.'
          : 'Attached: kill, restart, pause, resume, partition, heal are not available.'}
      </Text>
      <Text wrap="truncate-end" dimColor>
        {'<server>: an id or its number (kill 2). Spaces in a value: put k "a b".'}
      </Text>
      <Text wrap="truncate-end" dimColor>
        {'add ... --learner: it stays a learner until promote.'}
      </Text>
    </Box>
  );
}
