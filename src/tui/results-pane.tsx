import { Box, Text } from 'ink';
import type { ResultEntry } from './state.ts';
import { resultHeader, resultLines, type Line } from './format.ts';
import { toneProps } from './tone.ts';

interface ResultsPaneProps {
  results: ResultEntry[];
  /** Lines available for results (the column header not included). */
  height: number;
  width: number;
}

/** The newest results that fit, oldest at the top; errors in red. */
export function ResultsPane({ results, height, width }: ResultsPaneProps) {
  const shown = visibleLines(results, height, width);
  return (
    <Box flexDirection="column" width={width} height={height + 1} flexShrink={0}>
      <Text dimColor wrap="truncate-end">
        {resultHeader(width)}
      </Text>
      {shown.length === 0 ? (
        <Text dimColor wrap="truncate-end">
          {'       no results yet: try "put k1 hello", then "get k1" (help lists every command)'}
        </Text>
      ) : (
        shown.map((l, i) => (
          <Text key={i} wrap="truncate-end" bold={l.bold} {...toneProps(l.tone)}>
            {l.text}
          </Text>
        ))
      )}
    </Box>
  );
}

/**
 * The lines of the newest entries that fit whole; an entry taller than the pane on its
 * own (a long status) shows its last lines.
 */
function visibleLines(results: ResultEntry[], height: number, width: number): Line[] {
  const lines: Line[] = [];
  for (let i = results.length - 1; i >= 0; i--) {
    const entry = resultLines(results[i], width);
    if (lines.length + entry.length > height) {
      if (lines.length === 0) return entry.slice(entry.length - height);
      break;
    }
    lines.unshift(...entry);
  }
  return lines;
}
