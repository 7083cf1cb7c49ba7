import { chromium, type BrowserContext } from 'playwright-core';

/** Debian's `chromium` package (playwright's own browser download is not used). */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * Headless Chromium on its own profile folder (an empty one is a first visit: nothing cached),
 * with the background traffic a first run would start (sync, component updates) turned off so
 * that it does not share the page's timings.
 */
export function launchChromium(profileDir: string): Promise<BrowserContext> {
  return chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1360, height: 900 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
