'use strict';
// The editor's palette manager in headless Chromium: Menu → Manage palette → Install → upload the packed
// tarball (Node-RED with no compiler on PATH). The original's three node types appear in the palette and
// the module in the Nodes tab; a flow using them is deployed from the editor and a message goes through a real nats-server;
// while they are in use the module is marked "in use" without Remove, and after the flow is cleared the
// module is removed from the Nodes tab and the palette. Screenshot: test/screenshots/palette-manager.png (NRC_UPDATE_SCREENSHOTS=1).
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { startServer } = require('./support/nats-server');
const { startNodeRed, recorder } = require('./support/nodered');
const { until, screenshotDir } = require('./support/util');
const { PKG, MODULE, TYPES, SETS, pack, noCompilerBin, paletteEnv, paletteUserDir } = require('./support/palette');

const CHROMIUM = process.env.CHROMIUM || ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => fs.existsSync(p));
let chromium = null;
try { chromium = require('playwright-core').chromium; } catch (_) { /* optional */ }
const prebuilt = fs.existsSync(path.join(PKG, 'prebuilds', `${process.platform}-${process.arch}`));
const skip = (!prebuilt && 'no prebuilt binary: run scripts/build.sh first') || ((!CHROMIUM || !chromium) && 'chromium or playwright-core missing');
const SHOTS = screenshotDir();

test('editor palette manager: upload, use, remove', { skip, timeout: 300000 }, async () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'nrc-palette-ui-'));
  const tgz = pack(work);
  const bin = noCompilerBin(work);
  const userDir = paletteUserDir(work);
  const server = await startServer();
  let red; let browser; let page;
  try {
    red = await startNodeRed({ userDir, env: paletteEnv(bin) });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(red.url);
    await page.waitForFunction(() => window.RED && RED.nodes && RED.nodes.getType && RED.nodes.getType('inject') && RED.workspaces.active(), null, { timeout: 60000 });
    assert.equal(await page.evaluate(() => !!RED.nodes.getType('ClusterConfigNode')), false, 'not in the palette before the install');

    // Menu → Manage palette → Install tab → upload.
    await page.evaluate(() => $('.red-ui-notification').remove());
    await page.locator('#red-ui-header-button-sidemenu').click();
    await page.locator('#menu-item-edit-palette').click();
    await page.locator('#red-ui-palette-editor-tabs').getByText('Install', { exact: true }).click();
    await page.locator('.red-ui-palette-editor-upload-button input[type="file"]').setInputFiles(tgz);
    const uploadBar = page.locator('.red-ui-palette-editor-upload');
    await uploadBar.getByText(path.basename(tgz)).waitFor({ state: 'visible' });
    await uploadBar.locator('button.primary').click();
    // The runtime installs it (npm, no compiler) and tells the editor, which loads the node definitions.
    await page.waitForFunction((types) => types.every((t) => RED.nodes.getType(t)), TYPES, { timeout: 240000 });
    const added = page.locator('.red-ui-notification').filter({ hasText: 'ClusterSubscribeNode' });
    await added.waitFor({ state: 'visible', timeout: 10000 });
    for (const t of TYPES) assert.match(await added.innerText(), new RegExp(t));
    for (const t of TYPES.filter((x) => x !== 'ClusterConfigNode')) {
      await page.locator(`.red-ui-palette-node[data-palette-type="${t}"]`).waitFor({ state: 'attached', timeout: 10000 });
    }
    assert.ok(fs.existsSync(path.join(userDir, 'node_modules', '@nats-cluster', 'node-red-cluster', 'prebuilds', 'linux-x64')));
    assert.ok(!fs.existsSync(path.join(userDir, 'node_modules', '@nats-cluster', 'node-red-cluster', 'build')), 'nothing compiled');

    // The Nodes tab lists the module with its three nodes and offers Remove.
    await page.locator('#red-ui-palette-editor-tabs').getByText('Nodes', { exact: true }).click();
    const entry = page.locator('#red-ui-palette-editor .red-ui-palette-module-header').filter({ hasText: MODULE });
    await entry.waitFor({ state: 'visible', timeout: 15000 });
    assert.match(await entry.innerText(), new RegExp(require('../package.json').version.replace(/\./g, '\\.')));
    assert.match(await entry.innerText(), new RegExp(`${SETS().length} nodes`));
    const remove = entry.getByText('remove', { exact: true });
    assert.ok(await remove.isVisible(), 'Remove is offered');
    await page.screenshot({ path: path.join(SHOTS, 'palette-manager.png') });

    // A flow with the new nodes, deployed from the editor; a message goes through nats-server.
    await page.locator('#node-dialog-ok').click();
    await page.evaluate(({ address, rec }) => {
      const z = RED.workspaces.active();
      rec.z = z;
      RED.view.importNodes([
        { id: 'cfg1', type: 'ClusterConfigNode', name: 'ui', instanceId: 'ui-a', zkRootPath: '/nodered-cluster', natsAddress: address, role: 'Member' },
        { id: 'inj1', type: 'inject', z, props: [{ p: 'payload' }], repeat: '', once: false, topic: '', payload: '{"hello":"palette"}', payloadType: 'json', x: 120, y: 80, wires: [['pub1']] },
        { id: 'pub1', type: 'ClusterPublishNode', z, clusterConfig: 'cfg1', subject: 'ui.test', mode: 'Durable', ttl: 30, x: 320, y: 80, wires: [] },
        { id: 'sub1', type: 'ClusterSubscribeNode', z, clusterConfig: 'cfg1', subjectPattern: 'ui-a.ui.>', x: 120, y: 160, wires: [['rec']] },
        rec,
      ], { generateIds: false, touchImport: true }); // placed as they are, not attached to the mouse
      RED.nodes.dirty(true); // as the Import dialog does
    }, { address: server.address, rec: recorder('rec', 'x') });
    await page.locator('#red-ui-header-button-deploy:not(.disabled)').click();
    await until(async () => (await red.request('GET', '/cluster/status/cfg1')).json?.connected, 20000, 'connected after the editor deploy');
    const got = await until(async () => {
      const r = red.received();
      if (r.length) return r;
      await red.request('POST', '/inject/inj1');
      await new Promise((res) => setTimeout(res, 500));
      return null;
    }, 20000, 'message through the nodes installed from the palette manager');
    assert.deepEqual(got[0].payload, { hello: 'palette' });
    assert.equal(got[0].topic, 'nodered-cluster.ui-a.ui.test');

    // While the flow uses the nodes the palette manager says "in use" and offers no Remove (the runtime
    // refuses it too: palette-upload.test.js).
    await page.evaluate(() => $('.red-ui-notification').remove());
    await page.locator('#red-ui-header-button-sidemenu').click();
    await page.locator('#menu-item-edit-palette').click();
    await entry.waitFor({ state: 'visible' });
    await entry.getByText('in use', { exact: true }).waitFor({ state: 'visible', timeout: 10000 });
    assert.equal(await entry.getByText('remove', { exact: true }).isVisible(), false, 'no Remove while in use');
    await page.locator('#node-dialog-ok').click();

    // Clear the flow, deploy, remove: the module leaves the Nodes tab and the palette.
    await page.evaluate(() => {
      const ids = [];
      RED.nodes.eachNode((n) => { ids.push(n.id); });
      RED.nodes.eachConfig((n) => { if (n.type === 'ClusterConfigNode') ids.push(n.id); });
      for (const id of ids) RED.nodes.remove(id);
      RED.nodes.dirty(true);
      RED.view.redraw(true);
    });
    await page.locator('#red-ui-header-button-deploy:not(.disabled)').click();
    await until(async () => !(await red.request('GET', '/flows')).json.some((n) => TYPES.includes(n.type)), 15000, 'flow without our nodes deployed');
    await page.evaluate(() => $('.red-ui-notification').remove());
    await page.locator('#red-ui-header-button-sidemenu').click();
    await page.locator('#menu-item-edit-palette').click();
    await entry.waitFor({ state: 'visible' });
    await entry.getByText('remove', { exact: true }).click();
    await page.locator('.red-ui-palette-module-install-confirm-button-remove').click();
    await entry.waitFor({ state: 'detached', timeout: 60000 });
    for (const t of TYPES.filter((x) => x !== 'ClusterConfigNode')) {
      await page.locator(`.red-ui-palette-node[data-palette-type="${t}"]`).waitFor({ state: 'detached', timeout: 30000 });
    }
    assert.ok(!fs.existsSync(path.join(userDir, 'node_modules', '@nats-cluster', 'node-red-cluster')), 'module directory removed');
    assert.equal(red.proc.exitCode, null, 'Node-RED still running');
    assert.equal((await red.request('GET', '/settings')).status, 200);
  } catch (err) {
    // What the editor showed when it went wrong, for the log.
    const shot = path.join(os.tmpdir(), `nrc-palette-ui-failure-${process.pid}.png`);
    if (page) await page.screenshot({ path: shot }).catch(() => {});
    err.message += `\n(screenshot: ${shot})${red ? `\nNode-RED log:\n${red.log().slice(-4000)}` : ''}`;
    throw err;
  } finally {
    if (browser) await browser.close();
    if (red) await red.stop();
    await server.stop();
    server.cleanup();
    fs.rmSync(work, { recursive: true, force: true });
  }
});
