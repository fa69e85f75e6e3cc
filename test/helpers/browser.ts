import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page, type Request } from 'playwright-core';
import { buildUi } from '../../ui/build.js';

/** Debian's chromium package; playwright-core never downloads a browser. */
export const CHROMIUM = '/usr/bin/chromium';

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-quic',
  '--disable-sync',
];

/**
 * Whether the browser tests can run here. Under CI a missing chromium fails the run (throws)
 * instead of skipping: .ci/run installs it.
 */
export function haveChromium(): boolean {
  if (existsSync(CHROMIUM)) return true;
  if (process.env.CI) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (.ci/run does)`);
  return false;
}

export interface TestBrowser {
  browser: Browser;
  /** The dashboard built from ui/ for this test file (pass as the gateway's uiDir). */
  uiDir: string;
  close(): Promise<void>;
}

/** Builds the dashboard into a temp folder and starts headless chromium on a fresh profile. */
export async function startBrowser(): Promise<TestBrowser> {
  const uiDir = mkdtempSync(join(tmpdir(), 'strangler-ui-'));
  await buildUi(uiDir);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true });
  return {
    browser,
    uiDir,
    async close() {
      await browser.close();
      rmSync(uiDir, { recursive: true, force: true });
    },
  };
}

/** A new page in a fresh context (empty sessionStorage and cookies) that records every request it makes. */
export async function openPage(browser: Browser, viewport = { width: 1280, height: 800 }): Promise<{ page: Page; requests: Request[] }> {
  const context = await browser.newContext({ viewport });
  context.setDefaultTimeout(10_000); // a missing element fails with its locator, before the test's own timeout
  const page = await context.newPage();
  const requests: Request[] = [];
  page.on('request', (request) => requests.push(request));
  return { page, requests };
}
