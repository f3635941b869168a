// privres live view: the estate as an SVG diagram, explain paths drawn on it,
// the query log streamed (server-sent events), unresponsive targets and the
// findings of a refused change. Plain SVG and DOM, no library.
'use strict';

const SVG = 'http://www.w3.org/2000/svg';
const svg = document.getElementById('diagram');
let estate = null;       // the last /api/estate
let centers = {};        // node id → {x, y} of its box
let generation = -1;

function el(tag, attrs, parent, text) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  if (parent) parent.appendChild(e);
  return e;
}

function bare(name) { return name && name !== '.' ? name.replace(/\.$/, '') : name; }

// ---- layout: one column per kind of thing ----------------------------------------

const ROW = 17, W = 300;

// A box with a title and rows; each row may be a node of its own.
function box(x, y, cls, id, title, rows, attrs) {
  const g = el('g', Object.assign({class: 'node box ' + cls, 'data-node': id}, attrs || {}), svg);
  const h = 22 + rows.length * ROW + 4;
  el('rect', {x, y, width: W, height: h}, g);
  el('text', {x: x + 8, y: y + 15, class: 'title'}, g, title);
  centers[id] = {x: x + W / 2, y: y + 11};
  rows.forEach((r, i) => {
    const ry = y + 22 + i * ROW;
    const rg = el('g', Object.assign({class: 'node ' + (r.cls || ''), 'data-node': r.id}, r.attrs || {}), g);
    el('rect', {x: x + 6, y: ry, width: W - 12, height: ROW - 2}, rg);
    el('text', {x: x + 12, y: ry + 11}, rg, r.text);
    centers[r.id] = {x: x + W / 2, y: ry + ROW / 2};
  });
  return h;
}

function column(x, items) {
  let y = 12;
  for (const it of items) y += box(x, y, it.cls, it.id, it.title, it.rows, it.attrs) + 14;
  return y;
}

function vnetItems(d) {
  const vms = d.virtualMachines || [];
  return (d.virtualNetworks || []).map(v => {
    const rows = (v.subnets || []).map(s => ({id: `subnet:${v.name}/${s.name}`,
      text: `subnet ${s.name} ${s.addressPrefix || ''}`}));
    for (const r of (d.dnsResolvers || []).filter(r => r.virtualNetwork === v.name)) {
      rows.push({id: `resolver:${r.name}`, text: `resolver ${r.name}`, cls: 'resolver'});
      for (const ie of r.inboundEndpoints || [])
        rows.push({id: `ie:${r.name}/${ie.name}`, cls: 'ie', attrs: {'data-addr': ie.privateIpAddress},
          text: `  inbound ${ie.name} ${ie.privateIpAddress || ''}`});
      for (const oe of r.outboundEndpoints || [])
        rows.push({id: `oe:${r.name}/${oe.name}`, cls: 'oe', text: `  outbound ${oe.name} (${oe.subnet})`});
    }
    for (const vm of vms.filter(m => m.virtualNetwork === v.name))
      rows.push({id: `vm:${vm.name}`, text: `vm ${vm.name} ${vm.privateIpAddress || ''}`});
    return {cls: 'vnet', id: `vnet:${v.name}`, attrs: {'data-vnet': v.name},
      title: `VNet ${v.name} ${(v.addressPrefixes || []).join(' ')}`, rows};
  });
}

function targetText(t) { return `${t.ipAddress}:${t.port || 53}`; }

function rulesetItems(d) {
  return (d.dnsForwardingRulesets || []).map(rs => ({
    cls: 'ruleset', id: `ruleset:${rs.name}`,
    title: `ruleset ${rs.name} via ${(rs.dnsResolverOutboundEndpoints || []).join(', ')}`,
    rows: (rs.forwardingRules || []).map(r => ({id: `rule:${rs.name}/${r.name}`, cls: 'rule',
      attrs: {'data-rule': r.name, 'data-targets': (r.targetDnsServers || []).map(targetText).join(' ')},
      text: `${r.name} ${r.domainName} → ${(r.targetDnsServers || []).map(targetText).join(', ')}`}))
      .concat((rs.virtualNetworkLinks || []).map(l => ({id: `rslink:${rs.name}/${l.name}`,
        cls: 'link', text: `link ${l.name} → ${l.virtualNetwork}`, vnet: l.virtualNetwork})))
  }));
}

function zoneItems(d) {
  const zones = (d.privateDnsZones || []).map(z => ({
    cls: 'zone', id: `zone:${bare(z.name)}`, title: `private zone ${z.name}`,
    rows: [{id: `records:${z.name}`, text: `${(z.recordSets || []).length} record sets`}]
      .concat((z.virtualNetworkLinks || []).map(l => ({id: `zonelink:${z.name}/${l.name}`, cls: 'link',
        text: `link ${l.name} → ${l.virtualNetwork}${l.registrationEnabled ? ' (registration)' : ''}`,
        vnet: l.virtualNetwork})))
  }));
  const policies = (d.dnsResolverPolicies || []).map(p => ({
    cls: 'policy', id: `policy:${p.name}`, title: `security policy ${p.name}`,
    rows: (p.dnsSecurityRules || []).map(r => ({id: `secrule:${p.name}/${r.name}`, attrs: {'data-secrule': r.name},
      text: `${r.priority} ${r.name} ${(r.action || {}).actionType} ${(r.dnsResolverDomainLists || []).join(',')}`}))
      .concat((p.virtualNetworkLinks || []).map(l => ({id: `policylink:${p.name}/${l.name}`, cls: 'link',
        text: `link ${l.name} → ${l.virtualNetwork}`, vnet: l.virtualNetwork})))
  }));
  const lists = (d.dnsResolverDomainLists || []).map(l => ({cls: 'list', id: `domainlist:${l.name}`,
    title: `domain list ${l.name}`, rows: [{id: `domains:${l.name}`, text: (l.domains || []).join(' ')}]}));
  return zones.concat(policies, lists);
}

function outsideItems(d) {
  const ext = (d.externalDnsServers || []).map(s => ({cls: 'external', id: `external:${s.name}`,
    attrs: {'data-addr': s.ipAddress}, title: `external DNS ${s.name} ${s.ipAddress}`,
    rows: (s.zones || []).map(z => ({id: `extzone:${s.name}/${z.name}`, text: `zone ${z.name}`}))
      .concat((s.forwarders || []).map(f => ({id: `extfwd:${s.name}/${f.domainName}`,
        text: `forwards ${f.domainName} → ${(f.targetDnsServers || []).map(targetText).join(', ')}`})))}));
  const onprem = ((d.topology || {}).onPremisesNetworks || []).map(n => ({cls: 'external',
    id: `onprem:${n.name}`, title: `on-premises ${n.name} ${(n.addressPrefixes || []).join(' ')}`,
    rows: (n.dnsServers || []).map(s => ({id: `onpremdns:${n.name}/${s}`, text: `DNS server ${s}`}))
      .concat((n.connectedVirtualNetworks || []).map(v => ({id: `onpremvnet:${n.name}/${v}`,
        text: `connected to ${v}`, vnet: v})))}));
  return onprem.concat(ext);
}

function edges(items, cls) {
  for (const it of items)
    for (const r of it.rows)
      if (r.vnet && centers[r.id] && centers[`vnet:${r.vnet}`]) {
        const a = centers[r.id], b = centers[`vnet:${r.vnet}`];
        const mx = (a.x + b.x) / 2;
        const e = el('path', {class: `edge ${cls}`, 'data-edge': r.id,
          d: `M${a.x - W / 2},${a.y} C${mx},${a.y} ${mx},${b.y} ${b.x + W / 2},${b.y}`});
        svg.insertBefore(e, svg.firstChild.nextSibling); // behind the boxes, after defs
      }
}

function draw() {
  const d = estate.estate.deployment;
  svg.innerHTML = '';
  centers = {};
  const defs = el('defs', {}, svg);
  for (const [id, color] of [['arrow', '#0550ae'], ['arrow-red', '#cf222e']]) {
    const m = el('marker', {id, viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 6, markerHeight: 6,
      orient: 'auto-start-reverse'}, defs);
    el('path', {d: 'M0,0 L10,5 L0,10 z', fill: color}, m);
  }
  const outside = outsideItems(d), vnets = vnetItems(d), rulesets = rulesetItems(d), zones = zoneItems(d);
  const h = Math.max(column(10, outside), column(330, vnets), column(650, rulesets), column(970, zones));
  svg.setAttribute('width', 1280);
  svg.setAttribute('height', h + 10);
  edges(rulesets, 'rslink');
  edges(zones, 'zonelink');
  edges(outside, 'onpremlink');
  markTargets();
  const sel = document.getElementById('vnet'), keep = sel.value;
  sel.innerHTML = '';
  for (const v of d.virtualNetworks || []) {
    const o = document.createElement('option');
    o.value = o.textContent = v.name;
    sel.appendChild(o);
  }
  if (keep) sel.value = keep;
}

// ---- paths: explain steps and query-log lines as node ids ------------------------------

function byAddr(addr) {
  const n = svg.querySelector(`[data-addr="${addr}"]`);
  return n ? n.getAttribute('data-node') : null;
}

// The rule of that name in the ruleset linked to the view (L-9: one at most).
function ruleNode(name, view) {
  const d = estate.estate.deployment;
  const rs = (d.dnsForwardingRulesets || []).find(rs =>
    (rs.virtualNetworkLinks || []).some(l => l.virtualNetwork === view));
  return rs ? `rule:${rs.name}/${name}` : null;
}

function policyNode(view) {
  const d = estate.estate.deployment;
  const p = (d.dnsResolverPolicies || []).find(p =>
    (p.virtualNetworkLinks || []).some(l => l.virtualNetwork === view));
  return p ? `policy:${p.name}` : null;
}

// steps: [{kind, at, rule, zone, target}] → node ids in order
function pathNodes(steps) {
  const ids = [];
  let view = null;
  for (const s of steps) {
    if (s.kind === 'view') { view = s.at; ids.push(`vnet:${s.at}`); }
    else if (s.kind === 'external') ids.push(`external:${s.at}`);
    else if (s.kind === 'policy') ids.push(policyNode(view));
    else if (s.kind === 'rule') ids.push(ruleNode(s.rule, view));
    else if (s.kind === 'zone' || s.kind === 'redirect') ids.push(`zone:${bare(s.zone)}`);
    else if ((s.kind === 'in-process' || s.kind === 'forward') && s.target)
      ids.push(byAddr(s.target.split(':')[0]));
  }
  return ids.filter((id, i) => id && centers[id] && ids.indexOf(id) === i);
}

function stepsOfExplain(e) {
  return (e.steps || []).map(s => ({kind: s.kind, at: s.at, rule: s.rule, zone: s.zone,
    target: s.target || s.chosen}));
}

// "view spoke1", "Q-3 rule AzurePrivate (azure.contoso.com.)", "in-process 10.10.0.4:53" …
function stepsOfLine(path) {
  return (path || []).map(p => {
    let m;
    if ((m = /^view (\S+)/.exec(p))) return {kind: 'view', at: m[1]};
    if ((m = /^external (\S+)/.exec(p))) return {kind: 'external', at: m[1]};
    if ((m = /^Q-3 rule (\S+)/.exec(p))) return {kind: 'rule', rule: m[1]};
    if ((m = /^Q-2 zone (\S+)/.exec(p))) return {kind: 'zone', zone: m[1]};
    if ((m = /^Q-1 policy/.exec(p))) return {kind: 'policy'};
    if ((m = /^(in-process|forward) (\S+)/.exec(p))) return {kind: m[1], target: m[2]};
    return {kind: 'other'};
  });
}

function highlight(ids, cls) {
  for (const n of svg.querySelectorAll('.' + cls)) n.classList.remove(cls);
  for (const id of ids) {
    const n = svg.querySelector(`[data-node="${CSS.escape(id)}"]`);
    if (n) n.classList.add(cls);
  }
}

function drawPath(ids) {
  const old = document.getElementById('explain-path');
  if (old) old.remove();
  highlight(ids, 'on-path');
  if (ids.length < 2) return;
  el('polyline', {id: 'explain-path', 'data-path': ids.join(' '),
    points: ids.map(id => `${centers[id].x},${centers[id].y}`).join(' ')}, svg);
}

// ---- the panels -------------------------------------------------------------------------

function markTargets() {
  const list = document.getElementById('targets');
  list.innerHTML = '';
  const map = (estate.estate.targets || []);
  const bad = (estate.targets || []).filter(t => t.state !== 'healthy');
  for (const t of bad) {
    const virtual = map.filter(m => m.real === `${t.address}:${t.port}`).map(m => m.target);
    const li = document.createElement('li');
    li.className = 'unresponsive-target';
    li.textContent = `${virtual.join(', ') || t.address + ':' + t.port} (${t.address}:${t.port}) ${t.state}, ${t.failures} failures`;
    list.appendChild(li);
    for (const v of virtual)
      for (const r of svg.querySelectorAll('[data-targets]'))
        if (r.getAttribute('data-targets').split(' ').includes(v)) r.classList.add('unresponsive');
  }
  if (!bad.length) list.innerHTML = '<li class="none">none</li>';
}

// P-1/P-2: the loop a finding names, drawn as a cycle.
function cycleOf(f) {
  let m;
  if (f.rule === 'P-2' && (m = /: (\S+ -\[.*)$/.exec(f.message)))
    return m[1].split(/ -\[[^\]]*\]-> /).map(s => s.replace(/ \(.*\)$/, ''));
  if (f.rule === 'P-1' && (m = /ruleset '([^']+)' is linked to virtual network '([^']+)'.*inbound endpoint (\S+)/.exec(f.message)))
    return [m[2], `ruleset ${m[1]}`, m[3], m[2]];
  return null;
}

function drawCycle(parent, nodes) {
  if (nodes.length > 1 && nodes[nodes.length - 1] === nodes[0]) nodes = nodes.slice(0, -1);
  const n = nodes.length, r = 70, cx = 170, cy = 95;
  const s = el('svg', {class: 'cycle', width: 340, height: 200}, parent);
  const defs = el('defs', {}, s);
  const mk = el('marker', {id: 'arrow-red', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 6,
    markerHeight: 6, orient: 'auto-start-reverse'}, defs);
  el('path', {d: 'M0,0 L10,5 L0,10 z', fill: '#cf222e'}, mk);
  const at = i => ({x: cx + r * Math.cos(2 * Math.PI * i / n - Math.PI / 2),
                    y: cy + r * Math.sin(2 * Math.PI * i / n - Math.PI / 2)});
  for (let i = 0; i < n; i++) {
    const a = at(i), b = at((i + 1) % n);
    el('path', {d: `M${a.x},${a.y} L${a.x + (b.x - a.x) * 0.8},${a.y + (b.y - a.y) * 0.8}`}, s);
  }
  for (let i = 0; i < n; i++) {
    const a = at(i);
    el('circle', {cx: a.x, cy: a.y, r: 5, 'data-cycle-node': nodes[i]}, s);
    el('text', {x: a.x + 8, y: a.y - 6}, s, nodes[i]);
  }
}

function showFindings() {
  const box = document.getElementById('findings');
  box.innerHTML = '';
  const fs = estate.refused || [];
  if (!fs.length) { box.innerHTML = '<p class="none">none: the deployment was accepted</p>'; return; }
  const p = document.createElement('p');
  p.textContent = 'The last change was refused; the deployment shown keeps serving.';
  box.appendChild(p);
  for (const f of fs) {
    const d = document.createElement('div');
    d.className = 'finding';
    d.textContent = `${f.path || ''}: ${f.message}${f.rule ? ' (' + f.rule + ')' : ''}`;
    box.appendChild(d);
    const c = cycleOf(f);
    if (c) drawCycle(box, c);
  }
}

async function refresh() {
  try {
    const r = await fetch('/api/estate');
    estate = await r.json();
  } catch (e) {
    document.getElementById('status').textContent = 'privresd unreachable';
    return;
  }
  document.getElementById('status').textContent = 'live';
  if (estate.generation !== generation && estate.estate) {
    generation = estate.generation;
    document.getElementById('generation').textContent = `deployment #${generation}`;
    draw();
  } else {
    for (const n of svg.querySelectorAll('.unresponsive')) n.classList.remove('unresponsive');
    markTargets();
  }
  showFindings();
}

document.getElementById('query').addEventListener('submit', async ev => {
  ev.preventDefault();
  const q = new URLSearchParams({vnet: document.getElementById('vnet').value,
    name: document.getElementById('qname').value, type: document.getElementById('qtype').value});
  const r = await fetch('/api/explain?' + q);
  const e = await r.json();
  const out = document.getElementById('explain');
  if (!r.ok) { out.textContent = e.error; drawPath([]); return; }
  out.textContent = e.text || JSON.stringify(e.steps);
  drawPath(pathNodes(stepsOfExplain(e)));
});

function onLine(ev) {
  const q = JSON.parse(ev.data);
  const li = document.createElement('li');
  li.className = 'rc-' + q.rcode;
  li.textContent = `${q.time.slice(11, 23)} ${q.listener} ${q.transport} ${q.name} ${q.type} ` +
    `${q.rcode} ${q.latencyUs}µs — ${(q.path || []).join(' → ')}`;
  li.setAttribute('data-name', q.name);
  const log = document.getElementById('log');
  log.insertBefore(li, log.firstChild);
  while (log.children.length > 200) log.lastChild.remove();
  highlight(pathNodes(stepsOfLine(q.path)), 'live-path');
}

refresh().then(() => {
  const es = new EventSource('/api/stream');
  es.onmessage = onLine;
  setInterval(refresh, 2000);
});
