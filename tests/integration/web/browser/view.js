// Drives headless Chromium (Debian's) through privresd's live view with
// playwright-core, for test_live_view.py: prints what it saw as JSON and saves
// a screenshot of each state into the given directory.
//   node view.js URL SPOKE_PORT SHOT_DIR PID CONFIG GROWN_YAML LOOP_YAML
'use strict';
const { chromium } = require('playwright-core');
const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const [url, spokePort, shots, pid, config, grownYaml, loopYaml] = process.argv.slice(2);

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.PRIVRES_CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  const out = {};
  try {
    const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
    const errors = [];
    page.on('pageerror', e => errors.push(String(e)));
    await page.goto(url);
    await page.waitForSelector('[data-node^="vnet:"]');
    out.nodes = await page.$$eval('[data-node]', ns => ns.map(n => n.getAttribute('data-node')));
    out.edges = await page.$$eval('[data-edge]', ns => ns.map(n => n.getAttribute('data-edge')));
    await page.screenshot({ path: path.join(shots, '1-estate.png'), fullPage: true });

    // the query box: spoke1 asks for web.azure.contoso.com
    await page.selectOption('#vnet', 'spoke1');
    await page.fill('#qname', 'web.azure.contoso.com');
    await page.click('button[type=submit]');
    await page.waitForSelector('#explain-path');
    out.path = (await page.getAttribute('#explain-path', 'data-path')).split(' ');
    out.onPath = await page.$$eval('.on-path', ns => ns.map(n => n.getAttribute('data-node')));
    out.explainText = await page.textContent('#explain');
    await page.screenshot({ path: path.join(shots, '2-explain-path.png'), fullPage: true });

    // a dig while the page is open shows up in the live stream
    await page.waitForTimeout(300); // the stream is open
    const name = `live-${Date.now()}.azure.contoso.com`;
    out.digName = name + '.';
    out.dig = execFileSync('dig', ['@127.0.0.1', '-p', spokePort, name, '+tries=1', '+time=3'])
      .toString();
    await page.waitForSelector(`#log li[data-name="${name}."]`, { timeout: 10000 });
    out.logLine = await page.textContent(`#log li[data-name="${name}."]`);
    out.livePath = await page.$$eval('.live-path', ns => ns.map(n => n.getAttribute('data-node')));
    await page.screenshot({ path: path.join(shots, '3-live-query.png'), fullPage: true });

    // an accepted reload (a VNet more): the diagram is redrawn
    fs.copyFileSync(grownYaml, config);
    process.kill(Number(pid), 'SIGHUP');
    await page.waitForSelector('[data-node="vnet:spoke3"]', { timeout: 15000 });
    out.generation = await page.textContent('#generation');
    // a target that never answers: listed, and its rule marked, at the next refresh
    for (let i = 0; i < 3; i++)
      execFileSync('dig', ['@127.0.0.1', '-p', spokePort, `x${i}.dead.example`, '+tries=1', '+time=2']);
    await page.waitForSelector('.unresponsive-target', { timeout: 10000 });
    out.unresponsive = await page.textContent('#targets');
    out.marked = await page.$$eval('.unresponsive', ns => ns.map(n => n.getAttribute('data-node')));
    await page.screenshot({ path: path.join(shots, '4-reloaded.png'), fullPage: true });

    // a refused reload (a P-2 loop): the view keeps the estate and draws the cycle
    fs.copyFileSync(loopYaml, config);
    process.kill(Number(pid), 'SIGHUP');
    await page.waitForSelector('[data-cycle-node]', { timeout: 15000 });
    out.cycle = await page.$$eval('[data-cycle-node]', ns => ns.map(n => n.getAttribute('data-cycle-node')));
    out.findings = await page.textContent('#findings');
    out.nodesAfter = (await page.$$eval('[data-node]', ns => ns.length));
    await page.screenshot({ path: path.join(shots, '5-refused-loop.png'), fullPage: true });
    out.errors = errors;
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(out));
})().catch(e => { console.error(e); process.exit(1); });
