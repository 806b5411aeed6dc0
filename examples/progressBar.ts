/** A one-line progress bar: `\r[#####.....] 120/200` on a terminal, a plain line every 10% otherwise. */
export interface ProgressBar {
  /** Counts one more item done. */
  tick(): void;
  /** Ends the bar's line. */
  done(): void;
}

const WIDTH = 30;

/** Draws on `stream` (default: stdout); `label` is printed before the bar. */
export function createProgressBar(total: number, label: string, stream: NodeJS.WriteStream = process.stdout): ProgressBar {
  let count = 0;
  let lastTenth = -1;
  const tty = stream.isTTY === true;
  const draw = (): void => {
    if (tty) {
      const filled = total === 0 ? WIDTH : Math.round((count / total) * WIDTH);
      stream.write(`\r${label} [${'#'.repeat(filled)}${'.'.repeat(WIDTH - filled)}] ${count}/${total}`);
      return;
    }
    const tenth = total === 0 ? 10 : Math.floor((count / total) * 10);
    if (tenth === lastTenth) return;
    lastTenth = tenth;
    stream.write(`${label} ${count}/${total}\n`);
  };
  draw();
  return {
    tick() {
      count++;
      draw();
    },
    done() {
      if (tty) stream.write('\n');
    },
  };
}
