import { Box, Text, useStdout } from 'ink';
import { useCallback, useEffect, useState, useSyncExternalStore } from 'react';
import { ClusterPanel } from './cluster-panel.tsx';
import { CommandLine } from './command-line.tsx';
import { complete } from './commands.ts';
import type { Controller } from './controller.ts';
import { HelpView } from './help-view.tsx';
import { ResultsPane } from './results-pane.tsx';

interface AppProps {
  controller: Controller;
  /** Shown after the title: where the cluster came from. */
  subtitle?: string;
}

/** The terminal's size, following resizes (80x24 when unknown). */
function useTerminalSize(): { columns: number; rows: number } {
  const { stdout } = useStdout();
  const read = () => ({ columns: stdout.columns || 80, rows: stdout.rows || 24 });
  const [size, setSize] = useState(read);
  useEffect(() => {
    const onResize = () => setSize(read());
    stdout.on('resize', onResize);
    return () => {
      stdout.off('resize', onResize);
    };
  }, [stdout]);
  return size;
}

/** The whole screen: header, cluster panel, results (or help), command line. */
export function App({ controller, subtitle }: AppProps) {
  const snap = useSyncExternalStore(controller.subscribe, controller.getSnapshot);
  const { columns, rows } = useTerminalSize();
  const width = Math.max(20, columns);
  const inner = width - 1;
  const onSubmit = useCallback(
    (line: string) => {
      if (line.trim() === '' && snap.view === 'help') return controller.setView('main');
      void controller.run(line);
    },
    [controller, snap.view],
  );
  const completeLine = useCallback((line: string) => complete(line, controller.serverIds), [controller]);
  // header 1 + panel (servers + 3) + results header 1 + command line 2; one row spare so
  // ink never fills the screen (it would clear the terminal on every frame).
  const resultsHeight = Math.max(2, rows - 1 - 1 - (snap.rows.length + 3) - 1 - 2);
  const leader = snap.leader;
  // A removed server keeps its row (marked) but is no longer part of the count.
  const members = snap.rows.filter((r) => r.member?.kind !== 'removed');
  const up = members.filter((r) => r.fresh).length;
  return (
    <Box flexDirection="column" width={width}>
      <Text wrap="truncate-end">
        <Text bold color="cyan">
          RaftKV
        </Text>
        {`  ${up}/${members.length} up  `}
        {leader ? (
          <Text color="green" bold>{`leader ${leader.id} (term ${leader.term})`}</Text>
        ) : (
          <Text color="yellow" bold>
            no leader
          </Text>
        )}
        {snap.members?.joint ? <Text color="yellow" bold>{'  joint (C_old,new)'}</Text> : null}
        <Text dimColor>{`  ${snap.launched ? 'launched' : 'attached'}${subtitle ? `: ${subtitle}` : ''}`}</Text>
      </Text>
      {snap.view === 'help' ? (
        <Box height={rows - 4} flexDirection="column" overflow="hidden">
          <HelpView launched={snap.launched} width={inner} />
        </Box>
      ) : (
        <>
          <ClusterPanel rows={snap.rows} leaderId={leader?.id ?? null} width={inner} />
          <ResultsPane results={snap.results} height={resultsHeight} width={inner} />
        </>
      )}
      <CommandLine
        width={inner}
        onSubmit={onSubmit}
        complete={completeLine}
        onEscape={() => controller.setView('main')}
        onInterrupt={() => void controller.run('quit')}
      />
    </Box>
  );
}
