'use strict';
// The editor in headless Chromium: add a subscribe node, get subject suggestions from discovery (another
// instance publishes), the Delivery field and the request node dialog,
// press Test Connection in the config node and read the result. Screenshots go to
// test/screenshots/ (used by the README) with NRC_UPDATE_SCREENSHOTS=1, else to a temp dir.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const path = require('path');
const { startServer } = require('./support/nats-server');
const { startNodeRed } = require('./support/nodered');
const { until, screenshotDir } = require('./support/util');

const PKG = path.join(__dirname, '..');
const CHROMIUM = process.env.CHROMIUM || ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => fs.existsSync(p));
let chromium = null;
try { chromium = require('playwright-core').chromium; } catch (_) { /* optional */ }
const SHOTS = screenshotDir();

test('editor: autocomplete from discovery and Test Connection', { skip: (!CHROMIUM || !chromium) && 'chromium or playwright-core missing', timeout: 180000 }, async () => {
  const server = await startServer();
  const A = await startNodeRed({ packageDir: PKG });
  const B = await startNodeRed({ packageDir: PKG });
  let browser;
  try {
    await A.deploy([
      { id: 'ta', type: 'tab', label: 'A' },
      { id: 'ca', type: 'ClusterConfigNode', instanceId: 'plant-a', zkRootPath: '/nodered-cluster', natsAddress: server.address, role: 'Member' },
      { id: 'i1', type: 'inject', z: 'ta', props: [{ p: 'payload' }], repeat: '1', once: true, onceDelay: 0.1, topic: '', payload: '1', payloadType: 'num', x: 100, y: 80, wires: [['p1', 'p2']] },
      { id: 'p1', type: 'ClusterPublishNode', z: 'ta', clusterConfig: 'ca', subject: 'sensors.temperature', mode: 'Durable', ttl: 30, x: 300, y: 80, wires: [] },
      { id: 'p2', type: 'ClusterPublishNode', z: 'ta', clusterConfig: 'ca', subject: 'sensors.pressure', mode: 'Ephemeral', ttl: 10, x: 300, y: 140, wires: [] },
    ]);
    await B.deploy([
      { id: 'tb', type: 'tab', label: 'Flow 1' },
      { id: 'cb', type: 'ClusterConfigNode', name: 'plant cluster', instanceId: 'plant-b', zkRootPath: '/nodered-cluster', natsAddress: server.address, role: 'Member' },
    ]);
    await until(async () => {
      const r = await B.request('GET', '/cluster/discovery/cb');
      return r.json && r.json.subjects && r.json.subjects.includes('plant-a.sensors.pressure');
    }, 20000, 'discovery at B');

    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(B.url);
    await page.waitForFunction(() => window.RED && RED.nodes && RED.nodes.getType && RED.nodes.getType('ClusterSubscribeNode') && RED.nodes.node('cb'), null, { timeout: 60000 });

    // Add a subscribe node and open its dialog.
    await page.evaluate(() => {
      RED.view.importNodes([{ id: 'newsub', type: 'ClusterSubscribeNode', z: RED.workspaces.active(), clusterConfig: 'cb', subjectPattern: '', x: 200, y: 120, wires: [[]] }], { generateIds: false });
      RED.editor.edit(RED.nodes.node('newsub'));
    });
    const input = page.locator('#node-input-subjectPattern');
    await input.waitFor({ state: 'visible' });
    // click() waits until the tray has stopped moving (focus() does not: the opening tray can take the
    // focus back and the keys go elsewhere).
    await input.click();
    await page.keyboard.type('sensors', { delay: 30 });
    assert.equal(await input.inputValue(), 'sensors', 'typed into the pattern field');
    const items = page.locator('.red-ui-autoComplete-container li, .red-ui-autoComplete-container .red-ui-menu-item, .red-ui-autoComplete-container a');
    await items.first().waitFor({ state: 'visible', timeout: 15000 });
    const texts = await page.locator('.red-ui-autoComplete-container').innerText();
    assert.match(texts, /plant-a\.sensors\.temperature/);
    assert.match(texts, /\*\.sensors\.pressure/);
    await page.evaluate(() => $('.red-ui-notification').remove());
    await page.screenshot({ path: path.join(SHOTS, 'autocomplete.png') });
    await page.keyboard.press('Escape');
    await page.evaluate(() => RED.tray.close());

    // Delivery: a node in the original plugin's format shows "every instance" with no group row;
    // "one instance of group" shows the group field with the default name (root + patterns).
    await page.waitForFunction(() => $('#node-input-subjectPattern').length === 0, null, { timeout: 10000 });
    await page.evaluate(() => {
      RED.view.importNodes([{ id: 'grpsub', type: 'ClusterSubscribeNode', z: RED.workspaces.active(), clusterConfig: 'cb', subjectPattern: '*.jobs.>', x: 200, y: 220, wires: [[]] }], { generateIds: false });
      RED.editor.edit(RED.nodes.node('grpsub'));
    });
    await page.locator('#node-input-delivery').waitFor({ state: 'visible' });
    assert.equal(await page.evaluate(() => $('#node-input-delivery').val()), 'every');
    assert.equal(await page.locator('.node-input-group-row').isVisible(), false);
    await page.evaluate(() => $('#node-input-delivery').val('group').trigger('change'));
    await page.locator('#node-input-group').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#node-input-group').getAttribute('placeholder'), 'nodered-cluster_any_jobs_all');
    await page.screenshot({ path: path.join(SHOTS, 'group.png') });
    await page.evaluate(() => RED.tray.close());
    await page.waitForFunction(() => $('#node-input-delivery').length === 0, null, { timeout: 10000 });

    // The cluster request node: the instance / group field follows "Send to".
    await page.evaluate(() => {
      RED.view.importNodes([{ id: 'rq', type: 'ClusterRequestNode', z: RED.workspaces.active(), clusterConfig: 'cb', subject: 'time.now', x: 200, y: 320, wires: [[]] }], { generateIds: false });
      RED.editor.edit(RED.nodes.node('rq'));
    });
    await page.locator('#node-input-target').waitFor({ state: 'visible' });
    assert.equal(await page.evaluate(() => $('#node-input-target').val()), 'any');
    assert.equal(await page.locator('.node-input-instance-row').isVisible(), false);
    await page.evaluate(() => $('#node-input-target').val('instance').trigger('change'));
    await page.locator('#node-input-instance').waitFor({ state: 'visible' });
    assert.equal(await page.locator('.node-input-group-row').isVisible(), false);
    await page.evaluate(() => RED.tray.close());
    await page.waitForFunction(() => $('#node-input-target').length === 0, null, { timeout: 10000 });

    // The config node dialog: Test Connection (ok), then an unreachable address.
    await page.evaluate(() => RED.editor.editConfig('', 'ClusterConfigNode', 'cb'));
    await page.locator('#node-config-cluster-test').waitFor({ state: 'visible' });
    await page.evaluate(() => $('#node-config-cluster-test').trigger('click'));
    await page.waitForFunction(() => { const c = $('#node-config-cluster-test-result').attr('data-code'); return c && c !== 'running'; }, null, { timeout: 20000 });
    assert.equal(await page.getAttribute('#node-config-cluster-test-result', 'data-code'), 'ok', await page.innerText('#node-config-cluster-test-result'));
    await page.screenshot({ path: path.join(SHOTS, 'test-connection.png') });
    await page.evaluate(() => { $('#node-config-input-natsAddress').val('127.0.0.1:1'); $('#node-config-cluster-test').trigger('click'); });
    await page.waitForFunction(() => { const c = $('#node-config-cluster-test-result').attr('data-code'); return c && c !== 'running' && c !== 'ok'; }, null, { timeout: 20000 });
    assert.equal(await page.getAttribute('#node-config-cluster-test-result', 'data-code'), 'unreachable');
  } finally {
    if (browser) await browser.close();
    await Promise.all([A.stop(), B.stop()]);
    await server.stop();
    server.cleanup();
  }
});
