import type { Tone } from './format.ts';

/** The ink <Text> color props of a tone. */
export function toneProps(tone: Tone): { color?: string; dimColor?: boolean } {
  switch (tone) {
    case 'normal':
      return {};
    case 'dim':
      return { dimColor: true };
    default:
      return { color: tone };
  }
}
