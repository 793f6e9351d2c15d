// leadscore console: shared helpers. Everything the user or the service
// supplies is put into the page as text (textContent, SVG text nodes),
// never parsed as HTML.
'use strict';
(function () {
  const KEY = 'leadscore.apiKey';
  const SVGNS = 'http://www.w3.org/2000/svg';

  // h builds an element: h('div', {class: 'x'}, 'text', child, ...).
  // Strings become text nodes; attributes are set with setAttribute, and
  // names starting with "on" are refused so no code comes from data.
  function h(tag, attrs, ...kids) {
    const el = document.createElement(tag);
    return fill(el, attrs, kids);
  }
  function s(tag, attrs, ...kids) {
    const el = document.createElementNS(SVGNS, tag);
    return fill(el, attrs, kids);
  }
  function fill(el, attrs, kids) {
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (/^on/i.test(k)) throw new Error('event attributes are not allowed');
      el.setAttribute(k, v === true ? '' : String(v));
    }
    for (const kid of kids.flat(Infinity)) {
      if (kid === undefined || kid === null || kid === false) continue;
      el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
    }
    return el;
  }

  const nf0 = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
  const fmt = {
    int: (v) => (v === null || v === undefined || !isFinite(v)) ? '–' : nf0.format(v),
    num: (v, d = 2) => (v === null || v === undefined || !isFinite(v)) ? '–' : Number(v).toFixed(d),
    pct: (v, d = 1) => (v === null || v === undefined || !isFinite(v)) ? '–' : (v * 100).toFixed(d) + '%',
    ms: (v) => {
      if (v === null || v === undefined || !isFinite(v)) return '–';
      if (v < 1) return (v * 1000).toFixed(0) + ' µs';
      if (v < 10) return v.toFixed(2) + ' ms';
      if (v < 1000) return v.toFixed(0) + ' ms';
      return (v / 1000).toFixed(2) + ' s';
    },
    rate: (v) => (v === null || v === undefined || !isFinite(v)) ? '–' : v >= 100 ? nf0.format(v) : v >= 10 ? v.toFixed(1) : v.toFixed(2),
    bytes: (v) => {
      if (!isFinite(v)) return '–';
      const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
      let i = 0;
      while (v >= 1024 && i < u.length - 1) { v /= 1024; i++; }
      return (i ? v.toFixed(1) : v) + ' ' + u[i];
    },
    dur: (sec) => {
      if (!isFinite(sec)) return '–';
      sec = Math.max(0, Math.floor(sec));
      const d = Math.floor(sec / 86400), hh = Math.floor(sec % 86400 / 3600), mm = Math.floor(sec % 3600 / 60), ss = sec % 60;
      if (d) return d + ' d ' + hh + ' h';
      if (hh) return hh + ' h ' + mm + ' min';
      if (mm) return mm + ' min ' + ss + ' s';
      return ss + ' s';
    },
    ago: (date) => {
      const sec = (Date.now() - date.getTime()) / 1000;
      return sec < 5 ? 'just now' : fmt.dur(sec) + ' ago';
    },
  };

  // Numbers in the service's JSON may be the strings "NaN", "Infinity".
  function num(v) {
    if (typeof v === 'number') return v;
    if (v === null || v === undefined) return NaN;
    const n = Number(v);
    return n;
  }

  class AuthError extends Error {}
  class HTTPError extends Error {
    constructor(status, message) { super(message); this.status = status; }
  }

  // api calls a JSON route with the stored key. A 401 opens the key prompt
  // and throws AuthError; other errors throw HTTPError with the service's
  // message.
  let keyWaiters = [];
  async function api(path, opts = {}) {
    const headers = Object.assign({ Accept: 'application/json' }, opts.headers || {});
    const key = sessionStorage.getItem(KEY);
    if (key) headers.Authorization = 'Bearer ' + key;
    const res = await fetch(path, { method: opts.method || 'GET', headers, body: opts.body, cache: 'no-store', credentials: 'omit' });
    if (res.status === 401) {
      askKey(key ? 'That key was refused: check it and try again.' : '');
      throw new AuthError('an API key is required');
    }
    let body = null;
    const text = await res.text();
    if (text) {
      try { body = JSON.parse(text); } catch (e) { body = null; }
    }
    if (!res.ok) {
      const msg = body && body.error ? (body.error.message || body.error.code) : res.status + ' ' + res.statusText;
      throw new HTTPError(res.status, msg);
    }
    return body;
  }

  // askKey shows the key prompt; the promise from waitKey resolves once a
  // key is entered.
  function askKey(message) {
    sessionStorage.removeItem(KEY);
    const ov = document.getElementById('key-overlay');
    document.getElementById('key-msg').textContent = message || '';
    if (ov.hidden) {
      ov.hidden = false;
      document.getElementById('key-input').value = '';
      document.getElementById('key-input').focus();
    }
  }
  function waitKey() { return new Promise((resolve) => keyWaiters.push(resolve)); }
  function hasKey() { return !!sessionStorage.getItem(KEY); }

  function initKey() {
    const form = document.getElementById('key-form');
    const btn = document.getElementById('keybtn');
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const v = document.getElementById('key-input').value.trim();
      if (!v) { document.getElementById('key-msg').textContent = 'Type a key first.'; return; }
      sessionStorage.setItem(KEY, v);
      document.getElementById('key-overlay').hidden = true;
      btn.hidden = false;
      const ws = keyWaiters; keyWaiters = [];
      ws.forEach((w) => w());
    });
    btn.hidden = !hasKey();
    btn.addEventListener('click', () => {
      sessionStorage.removeItem(KEY);
      btn.hidden = true;
      location.reload();
    });
    btn.title = 'Forget the API key of this tab';
    btn.textContent = 'Forget key';
  }

  function setLive(state, text) {
    const el = document.getElementById('live');
    el.classList.toggle('on', state === 'on');
    el.classList.toggle('off', state === 'off');
    document.getElementById('live-text').textContent = text;
  }

  window.LS = { h, s, fmt, num, api, AuthError, HTTPError, askKey, waitKey, hasKey, initKey, setLive };
})();
