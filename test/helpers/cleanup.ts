/**
 * What tests open is closed by hooks (test/helpers/cleanup-hooks.ts), not by a line at the end of
 * the test that a failed assertion would skip. Whatever is registered while a test runs (its
 * beforeEach hooks included) is released after that test, pass or fail; whatever is registered
 * outside a test (beforeAll, describe bodies) after the file. Release runs newest first, so an app
 * is closed before the folder it uses is removed.
 */
type Release = () => unknown;

let inTest = false;
const afterTest: Release[] = [];
const afterFile: Release[] = [];

export function onRelease(release: Release): void {
  (inTest ? afterTest : afterFile).push(release);
}

async function releaseAll(list: Release[]): Promise<void> {
  const errors: unknown[] = [];
  while (list.length) {
    try {
      await list.pop()!();
    } catch (err) {
      errors.push(err);
    }
  }
  // Everything is released first; then the test (or file) fails with what went wrong.
  if (errors.length) throw new AggregateError(errors, `${errors.length} clean-up step(s) failed`);
}

export function testStarts(): void {
  inTest = true;
}

export async function testEnded(): Promise<void> {
  inTest = false;
  await releaseAll(afterTest);
}

export async function fileEnded(): Promise<void> {
  await releaseAll(afterFile);
}
