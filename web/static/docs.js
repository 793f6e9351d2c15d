// leadscore console: renders the service's OpenAPI document (/openapi.json).
'use strict';
(function () {
  const { h, api, AuthError, HTTPError, waitKey, initKey, setLive } = window.LS;
  const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'];
  const $ = (id) => document.getElementById(id);
  let doc = null;

  function empty(...kids) { return h('div', { class: 'empty' }, ...kids); }

  // resolve follows a local $ref ("#/components/schemas/Lead").
  function resolve(obj) {
    let seen = 0;
    while (obj && typeof obj.$ref === 'string' && seen++ < 16) {
      if (!obj.$ref.startsWith('#/')) return obj;
      let cur = doc;
      for (const part of obj.$ref.slice(2).split('/')) {
        cur = cur ? cur[part.replace(/~1/g, '/').replace(/~0/g, '~')] : undefined;
      }
      if (!cur) return obj;
      obj = cur;
    }
    return obj;
  }

  function refName(obj) {
    return obj && typeof obj.$ref === 'string' ? obj.$ref.split('/').pop() : '';
  }

  function typeOf(sc) {
    if (!sc) return 'any';
    if (sc.$ref) return refName(sc);
    let t = Array.isArray(sc.type) ? sc.type.join(' | ') : sc.type || (sc.properties ? 'object' : sc.oneOf ? 'one of' : sc.anyOf ? 'any of' : sc.allOf ? 'all of' : 'any');
    if (t === 'array' && sc.items) t = 'array of ' + typeOf(sc.items);
    if (sc.format) t += ' (' + sc.format + ')';
    if (sc.nullable) t += ' | null';
    return t;
  }

  // schema renders a JSON Schema as an indented outline, following $refs a
  // few levels deep.
  function schema(sc, depth, seen) {
    depth = depth || 0;
    seen = seen || new Set();
    const name = refName(sc);
    const r = resolve(sc) || {};
    const parts = [];
    if (r.description && depth === 0) parts.push(h('div', { class: 'd' }, r.description));
    if (r.enum) parts.push(h('div', { class: 'd' }, 'one of: ' + r.enum.map((v) => JSON.stringify(v)).join(', ')));
    if (depth > 4 || (name && seen.has(name))) return h('div', {}, parts);
    const seen2 = new Set(seen);
    if (name) seen2.add(name);
    const props = r.properties || {};
    const req = new Set(r.required || []);
    for (const [k, v] of Object.entries(props)) {
      const rv = resolve(v) || {};
      const sub = (rv.properties || (rv.items && (resolve(rv.items) || {}).properties) || rv.oneOf || rv.anyOf || rv.allOf) ? schema(rv.items && !rv.properties ? rv.items : v, depth + 1, seen2) : null;
      parts.push(h('div', { class: 'prop' },
        h('span', { class: 'n' }, k), req.has(k) ? h('span', { class: 'req', title: 'required' }, '*') : null, ' ',
        h('span', { class: 't' }, typeOf(v)),
        rv.description ? h('span', { class: 'd' }, ' — ' + rv.description) : null,
        rv.enum ? h('span', { class: 'd' }, ' (' + rv.enum.map((x) => JSON.stringify(x)).join(', ') + ')') : null,
        sub));
    }
    for (const kw of ['oneOf', 'anyOf', 'allOf']) {
      if (!Array.isArray(r[kw])) continue;
      parts.push(h('div', { class: 'd' }, { oneOf: 'one of:', anyOf: 'any of:', allOf: 'all of:' }[kw]));
      for (const alt of r[kw]) parts.push(h('div', { class: 'prop' }, h('span', { class: 't' }, typeOf(alt)), schema(alt, depth + 1, seen2)));
    }
    if (r.type === 'array' && r.items && !Object.keys(props).length) {
      const it = resolve(r.items) || {};
      if (it.properties || it.oneOf || it.anyOf) parts.push(h('div', { class: 'prop' }, h('span', { class: 'd' }, 'items: '), h('span', { class: 't' }, typeOf(r.items)), schema(r.items, depth + 1, seen2)));
    }
    return h('div', {}, parts);
  }

  function content(c) {
    if (!c) return null;
    return Object.entries(c).map(([type, media]) => h('div', {},
      h('div', { class: 'd' }, h('code', {}, type), media.schema ? ' · ' + typeOf(media.schema) : ''),
      media.schema ? h('div', { class: 'schema' }, schema(media.schema)) : null));
  }

  function anchor(method, path) { return 'op-' + method + '-' + path.replace(/[^A-Za-z0-9]+/g, '-'); }

  function operation(path, method, op, shared) {
    const params = (shared || []).concat(op.parameters || []).map(resolve).filter(Boolean);
    const body = resolve(op.requestBody);
    const kids = [h('div', { class: 'sig' }, h('span', { class: 'm ' + method }, method), h('span', { class: 'path' }, path),
      op.summary ? h('span', { class: 'summary' }, op.summary) : null)];
    if (op.description) kids.push(h('p', { class: 'desc' }, op.description));
    if (op.security && op.security.length === 0) kids.push(h('p', { class: 'd' }, 'No API key needed.'));
    if (params.length) {
      kids.push(h('h4', {}, 'Parameters'));
      kids.push(h('div', { class: 'tablewrap' }, h('table', {},
        h('thead', {}, h('tr', {}, h('th', {}, 'Name'), h('th', {}, 'In'), h('th', {}, 'Type'), h('th', {}, 'Description'))),
        h('tbody', {}, params.map((p) => h('tr', {},
          h('td', {}, h('code', {}, p.name || ''), p.required ? h('span', { class: 'req' }, ' *') : null),
          h('td', {}, p.in || ''), h('td', {}, typeOf(p.schema)), h('td', { class: 'd' }, p.description || '')))))));
    }
    if (body) {
      kids.push(h('h4', {}, 'Request body' + (body.required ? ' (required)' : '')));
      if (body.description) kids.push(h('p', { class: 'desc' }, body.description));
      kids.push(content(body.content));
    }
    if (op.responses) {
      kids.push(h('h4', {}, 'Responses'));
      for (const [code, r0] of Object.entries(op.responses)) {
        const r = resolve(r0) || {};
        kids.push(h('div', {}, h('b', {}, code), ' ', h('span', { class: 'd' }, r.description || '')));
        if (r.content) kids.push(content(r.content));
      }
    }
    return h('section', { class: 'op', id: anchor(method, path), 'data-path': path, 'data-method': method }, kids);
  }

  function render() {
    const info = doc.info || {};
    const groups = new Map();
    for (const [path, item0] of Object.entries(doc.paths || {})) {
      const item = resolve(item0) || {};
      for (const m of METHODS) {
        if (!item[m]) continue;
        const tag = (item[m].tags && item[m].tags[0]) || 'Other';
        if (!groups.has(tag)) groups.set(tag, []);
        groups.get(tag).push({ path, method: m, op: item[m], shared: item.parameters });
      }
    }
    const main = [h('div', { class: 'intro' }, h('h1', {}, info.title || 'API'),
      h('div', { class: 'd' }, 'version ' + (info.version || '–') + ' · OpenAPI ' + (doc.openapi || doc.swagger || '?') + ' · ', h('a', { href: '/openapi.json' }, 'openapi.json')),
      info.description ? h('p', {}, info.description) : null)];
    const toc = [];
    if (!groups.size) main.push(empty('The document lists no operations.'));
    const tagDesc = new Map((doc.tags || []).map((t) => [t.name, t.description]));
    for (const [tag, ops] of groups) {
      main.push(h('h2', { class: 'group' }, tag));
      if (tagDesc.get(tag)) main.push(h('p', { class: 'd' }, tagDesc.get(tag)));
      toc.push(h('h3', {}, tag));
      for (const o of ops) {
        main.push(operation(o.path, o.method, o.op, o.shared));
        toc.push(h('a', { href: '#' + anchor(o.method, o.path) }, h('span', { class: 'm ' + o.method }, o.method), h('span', { class: 'mono' }, o.path)));
      }
    }
    const schemas = doc.components && doc.components.schemas;
    if (schemas && Object.keys(schemas).length) {
      main.push(h('h2', { class: 'group' }, 'Schemas'));
      toc.push(h('h3', {}, 'Schemas'));
      for (const [name, sc] of Object.entries(schemas)) {
        const id = 'schema-' + name.replace(/[^A-Za-z0-9]+/g, '-');
        main.push(h('section', { class: 'op', id }, h('div', { class: 'sig' }, h('span', { class: 'path' }, name), h('span', { class: 'summary' }, typeOf(sc))),
          h('div', { class: 'schema' }, schema({ $ref: '#/components/schemas/' + name }))));
        toc.push(h('a', { href: '#' + id }, h('span', { class: 'mono' }, name)));
      }
    }
    $('doc').replaceChildren(...main);
    $('toc').replaceChildren(...toc);
    document.title = (info.title || 'API') + ' · leadscore';
    if (location.hash) {
      const el = document.getElementById(location.hash.slice(1));
      if (el) el.scrollIntoView();
    }
  }

  async function load() {
    try {
      doc = await api('/openapi.json');
    } catch (e) {
      if (e instanceof AuthError) {
        setLive('off', 'waiting for an API key');
        await waitKey();
        return load();
      }
      if (e instanceof HTTPError && e.status === 404) {
        setLive('off', 'no API document');
        $('doc').replaceChildren(empty(h('b', {}, 'No API document.'), ' This server does not publish /openapi.json. The routes are described in docs/service.md.'));
        document.body.dataset.ready = 'true';
        return;
      }
      setLive('off', 'cannot load /openapi.json');
      $('doc').replaceChildren(empty('Cannot load /openapi.json: ' + e.message));
      document.body.dataset.ready = 'true';
      return;
    }
    if (!doc || typeof doc !== 'object' || !(doc.openapi || doc.swagger)) {
      setLive('off', 'not an OpenAPI document');
      $('doc').replaceChildren(empty('/openapi.json is not an OpenAPI document.'));
      document.body.dataset.ready = 'true';
      return;
    }
    render();
    setLive('on', 'OpenAPI ' + (doc.openapi || doc.swagger));
    document.body.dataset.ready = 'true';
  }

  initKey();
  load();
})();
