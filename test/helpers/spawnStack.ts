import { currentTestPrefix, redisUrl } from './testRedis.ts';
import { spawnProducer, spawnWorker, type ProducerService, type Service, type WorkerService } from './spawnService.ts';
import { useFixture } from './useFixture.ts';

/** Options of {@link spawnStack}. */
export interface SpawnStackOptions {
  redisUrl: string;
  prefix: string;
  /** Task module of the producer and the workers, relative to the repo root. */
  tasks: string;
  /** Worker processes. Default: 1. */
  workers?: number;
  /** Sandbox processes of each worker. Default: 2. */
  concurrency?: number;
}

/** A `taskpool-producer` process and `taskpool-worker` processes over one Redis and prefix: the stack `npm start` runs. */
export interface SpawnedStack extends AsyncDisposable {
  /** The key prefix of every process. */
  readonly prefix: string;
  /** The producer's base URL, e.g. `http://127.0.0.1:40123` (it accepts `TEST_TOKEN`). */
  readonly url: string;
  readonly producer: ProducerService;
  readonly workers: WorkerService[];
  /** SIGTERMs every process and waits until all have exited. */
  stop(): Promise<void>;
}

/** Starts the producer and the workers at once and waits until all serve; if one does not, stops the others and throws. */
export async function spawnStack(options: SpawnStackOptions): Promise<SpawnedStack> {
  const { workers: count = 1, ...common } = options;
  const producerStarting = spawnProducer(common);
  const workersStarting = Array.from({ length: count }, () => spawnWorker(common));
  const outcomes = await Promise.allSettled<Service>([producerStarting, ...workersStarting]);
  const failed = outcomes.find((outcome) => outcome.status === 'rejected');
  if (failed) {
    await Promise.all(outcomes.map((outcome) => (outcome.status === 'fulfilled' ? outcome.value.stop() : undefined)));
    throw failed.reason;
  }
  const producer = await producerStarting;
  const workers = await Promise.all(workersStarting);
  const stop = async (): Promise<void> => {
    await Promise.all([producer, ...workers].map((service) => service.stop()));
  };
  return { prefix: options.prefix, url: producer.url, producer, workers, stop, [Symbol.asyncDispose]: stop };
}

/**
 * A spawned stack for the tests of a file, started in `beforeAll` and stopped in `afterAll` (see
 * {@link useFixture}): `stack.url`, `stack.workers` inside tests, `stack.prefix` at once. Defaults: the run's
 * Redis, a key prefix of the test file's own, and those of {@link spawnStack}.
 */
export function useSpawnedStack(options: Omit<SpawnStackOptions, 'redisUrl' | 'prefix'> & Partial<SpawnStackOptions>): SpawnedStack {
  const prefix = options.prefix ?? currentTestPrefix();
  return useFixture(() => spawnStack({ redisUrl: redisUrl(), ...options, prefix }), { prefix });
}
