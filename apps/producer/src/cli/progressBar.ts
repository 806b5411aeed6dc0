/** A one-line progress bar on stderr, so stdout stays clean for `--json`. */
export interface ProgressBar {
  /** Sets how many are done (and how many of those failed). */
  update(done: number, failed: number): void;
  /** Ends the bar's line. */
  finish(): void;
}

const WIDTH = 30;

/** Draws `label [#######.......] 120/200 (2 failed)`: redrawn in place on a terminal, a line per 10% otherwise. */
export function createProgressBar(total: number, label: string, stream: NodeJS.WriteStream = process.stderr): ProgressBar {
  const tty = stream.isTTY === true;
  let lastTenth = -1;
  let line = '';
  const draw = (done: number, failed: number): void => {
    const filled = total === 0 ? WIDTH : Math.round((done / total) * WIDTH);
    line = `${label} [${'#'.repeat(filled)}${'.'.repeat(WIDTH - filled)}] ${done}/${total}${failed > 0 ? ` (${failed} failed)` : ''}`;
    if (tty) return void stream.write(`\r${line}`);
    const tenth = total === 0 ? 10 : Math.floor((done / total) * 10);
    if (tenth === lastTenth) return;
    lastTenth = tenth;
    stream.write(`${line}\n`);
  };
  draw(0, 0);
  return {
    update: draw,
    finish() {
      if (tty) stream.write('\n');
    },
  };
}
