import { Box, Text } from 'ink';
import type { ServerRow } from './state.ts';
import { panelCells, panelHeader, panelLine, rowTone } from './format.ts';
import { toneProps } from './tone.ts';

interface ClusterPanelProps {
  rows: ServerRow[];
  leaderId: string | null;
  /** Outer width, border included. */
  width: number;
}

/** Each server: id, role, term, commit and applied index, last contact, state; the leader starred. */
export function ClusterPanel({ rows, leaderId, width }: ClusterPanelProps) {
  const inner = Math.max(10, width - 4);
  return (
    <Box flexDirection="column" borderStyle="round" borderColor="gray" paddingX={1} width={width} flexShrink={0}>
      <Text bold wrap="truncate-end">
        {panelHeader(inner)}
      </Text>
      {rows.map((row) => (
        <Text key={row.id} wrap="truncate-end" bold={row.id === leaderId} {...toneProps(rowTone(row, leaderId))}>
          {panelLine(panelCells(row, leaderId), inner)}
        </Text>
      ))}
    </Box>
  );
}
