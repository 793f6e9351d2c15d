// leadscore console: polls the service's JSON routes and draws the page.
'use strict';
(function () {
  const { h, s, fmt, num, api, AuthError, waitKey, initKey, setLive } = window.LS;
  const STATS_EVERY = 2000;
  const MONITOR_EVERY = 5000;
  const VARIANTS_EVERY = 5000;
  const $ = (id) => document.getElementById(id);

  const state = {
    stats: null,
    mon: null,
    monAt: 0,
    monError: '',
    variants: null,
    variantsAt: 0,
    variantsError: '',
    sort: { key: 'default', dir: -1 },
    formFor: '',
  };

  // ---- small drawing helpers -------------------------------------------------

  function empty(...kids) { return h('div', { class: 'empty' }, ...kids); }

  function widthOf(el, fallback) {
    const w = el.clientWidth;
    return w > 40 ? w : fallback;
  }

  // niceMax rounds a maximum up to 1, 2 or 5 times a power of ten.
  function niceMax(v) {
    if (!(v > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p;
    return 10 * p;
  }

  // lineChart draws series of equal length over times (unix seconds).
  function lineChart(fig, title, times, series, format, height) {
    const W = widthOf(fig, 600), H = height || 170;
    const L = 46, R = 8, T = 8, B = 22;
    const iw = W - L - R, ih = H - T - B;
    let max = 0;
    for (const se of series) for (const v of se.values) if (v !== null && isFinite(v) && v > max) max = v;
    max = niceMax(max);
    const t0 = times[0], t1 = times[times.length - 1], span = Math.max(1, t1 - t0);
    const x = (t) => L + (t - t0) / span * iw;
    const y = (v) => T + ih - v / max * ih;
    const svg = s('svg', { width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': title });
    for (let i = 0; i <= 4; i++) {
      const v = max * i / 4, yy = y(v);
      svg.append(s('line', { class: i ? 'grid' : 'axis', x1: L, x2: W - R, y1: yy, y2: yy }));
      svg.append(s('text', { x: L - 6, y: yy + 4, 'text-anchor': 'end' }, format(v)));
    }
    const ticks = [[t0, '−' + fmt.dur(span).replace(/ 0 s$/, '')], [t1, 'now']];
    if (span >= 60) ticks.splice(1, 0, [t0 + span / 2, '−' + fmt.dur(span / 2).replace(/ 0 s$/, '')]);
    for (const [t, label] of ticks) {
      svg.append(s('text', { x: x(t), y: H - 6, 'text-anchor': t === t0 ? 'start' : t === t1 ? 'end' : 'middle' }, label));
    }
    series.forEach((se, si) => {
      let d = '', area = '', started = false, firstX = 0, lastX = 0;
      se.values.forEach((v, i) => {
        if (v === null || !isFinite(v)) { started = false; return; }
        const px = x(times[i]).toFixed(1), py = y(v).toFixed(1);
        d += (started ? 'L' : 'M') + px + ' ' + py;
        if (!area) firstX = px;
        area += (area ? 'L' : 'M') + px + ' ' + py;
        lastX = px;
        started = true;
      });
      if (si === 0 && se.area && area) svg.append(s('path', { class: 'area1', d: area + `L${lastX} ${T + ih}L${firstX} ${T + ih}Z` }));
      if (d) svg.append(s('path', { class: 'line ' + se.cls, d }));
    });
    const cap = h('figcaption', {}, h('span', { class: 'title' }, title),
      series.map((se) => h('span', { class: 'key' }, h('span', { class: 'sw ' + se.sw }), se.name)));
    fig.replaceChildren(cap, svg);
  }

  // ---- overview --------------------------------------------------------------

  function renderOverview() {
    const st = state.stats, m = st.model;
    $('model-name').replaceChildren(m.name, h('span', { class: 'ver' }, 'v' + m.version));
    $('model-source').textContent = (m.source ? 'from ' + m.source + ' · ' : '') + m.features.length + ' features · leadscore ' + st.version;
    document.title = m.name + ' · leadscore console';
    const chips = [];
    chips.push(h('span', { class: 'chip', id: 'uptime' }, 'up ', h('b', {}, fmt.dur(st.uptime_seconds))));
    if (st.lake) {
      const l = st.lake;
      const cls = l.healthy ? 'ok' : 'bad';
      const last = l.last_upload_seen_at ? ' · last upload ' + fmt.ago(new Date(l.last_upload_seen_at)) : '';
      chips.push(h('span', { class: 'chip ' + cls, id: 'lake', title: 'data lake: queue, upload backlog, last upload' },
        'lake ', h('b', {}, l.healthy ? 'healthy' : 'unhealthy'),
        ` · queue ${fmt.int(l.queue_depth)}/${fmt.int(l.queue_capacity)} · backlog ${fmt.int(l.backlog_files)} files (${fmt.bytes(l.backlog_bytes)})` + last));
    } else {
      chips.push(h('span', { class: 'chip', id: 'lake' }, 'lake ', h('b', {}, 'off')));
    }
    const viol = state.mon && state.mon.constraint_violations ? state.mon.constraint_violations.violations.length : 0;
    if (st.alerts && st.alerts.length) {
      chips.push(h('span', { class: 'chip bad', id: 'alerts', title: st.alerts.map((a) => a.feature + ': ' + a.check).join('\n') }, h('b', {}, st.alerts.length + ' alerts'), ' active'));
    } else if (st.routes.monitoring) {
      chips.push(h('span', { class: 'chip ' + (viol ? 'warn' : 'ok'), id: 'alerts' }, viol ? h('b', {}, viol + ' violations') : h('b', {}, 'no alerts')));
    } else {
      chips.push(h('span', { class: 'chip', id: 'alerts' }, 'monitoring ', h('b', {}, 'off')));
    }
    $('facts').replaceChildren(...chips);
  }

  // ---- traffic ---------------------------------------------------------------

  function kpi(id, label, value, unit, note, bad) {
    return h('div', { class: 'kpi' + (bad ? ' bad' : ''), id },
      h('div', { class: 'label' }, label),
      h('div', { class: 'value' }, value, unit ? h('small', {}, unit) : null),
      note ? h('div', { class: 'note' }, note) : null);
  }

  function renderTraffic() {
    const st = state.stats, t = st.totals, lat = st.latency;
    // Current rates: the newest points covering at least ten seconds.
    let last = null;
    for (let i = st.series.length - 1, secs = 0, rq = 0, ld = 0; i >= 0; i--) {
      const p = st.series[i];
      secs += p.seconds; rq += p.requests_per_second * p.seconds; ld += p.leads_per_second * p.seconds;
      last = { seconds: secs, requests_per_second: rq / secs, leads_per_second: ld / secs };
      if (secs >= 10) break;
    }
    const errs = t.client_errors + t.server_errors;
    const k = [
      kpi('kpi-requests', 'Requests', fmt.int(t.requests), '', 'since start'),
      kpi('kpi-leads', 'Leads scored', fmt.int(t.leads), '', 'since start'),
      kpi('kpi-rps', 'Requests/s', last ? fmt.rate(last.requests_per_second) : '–', '', last ? 'last ' + Math.round(last.seconds) + ' s' : 'collecting'),
      kpi('kpi-lps', 'Leads/s', last ? fmt.rate(last.leads_per_second) : '–', '', last ? 'last ' + Math.round(last.seconds) + ' s' : 'collecting'),
      kpi('kpi-p50', 'p50', fmt.ms(lat.p50_ms), '', 'last ' + fmt.dur(lat.window_seconds)),
      kpi('kpi-p90', 'p90', fmt.ms(lat.p90_ms), '', 'in the server'),
      kpi('kpi-p99', 'p99', fmt.ms(lat.p99_ms), '', fmt.int(lat.requests) + ' requests'),
      kpi('kpi-errors', 'Errors', fmt.int(errs), '', `${fmt.int(t.client_errors)} 4xx · ${fmt.int(t.server_errors)} 5xx`, t.server_errors > 0),
      kpi('kpi-shed', 'Shed', fmt.int(t.shed), '', t.rate_limited ? fmt.int(t.rate_limited) + ' rate-limited' : 'overload 503s', t.shed > 0),
    ];
    $('kpis').replaceChildren(...k);
    $('kpi-requests').dataset.value = t.requests;
    $('kpi-leads').dataset.value = t.leads;

    const pts = st.series;
    if (t.requests === 0) {
      $('chart-rate').replaceChildren(empty(h('b', {}, 'No scoring requests yet.'), ' Send leads to POST /score (or use the form below) and requests and leads per second appear here.'));
      $('chart-latency').replaceChildren(empty('Latency percentiles appear with the first requests.'));
    } else if (pts.length < 2) {
      $('chart-rate').replaceChildren(empty('Collecting: rates appear after a few seconds of samples.'));
      $('chart-latency').replaceChildren(empty('Collecting: latency over time appears after a few seconds.'));
    } else {
      const times = pts.map((p) => p.t);
      lineChart($('chart-rate'), 'Throughput', times, [
        { name: 'requests/s', cls: 'l1', sw: '', values: pts.map((p) => p.requests_per_second), area: true },
        { name: 'leads/s', cls: 'l2', sw: 's2', values: pts.map((p) => p.leads_per_second) },
        { name: 'errors/s', cls: 'l3', sw: 's3', values: pts.map((p) => p.errors_per_second) },
      ], fmt.rate);
      lineChart($('chart-latency'), 'Latency in the server', times, [
        { name: 'p50', cls: 'l1', sw: '', values: pts.map((p) => p.p50_ms) },
        { name: 'p90', cls: 'l2', sw: 's2', values: pts.map((p) => p.p90_ms) },
        { name: 'p99', cls: 'l3', sw: 's3', values: pts.map((p) => p.p99_ms) },
      ], fmt.ms);
    }
    const codes = Object.entries(t.rejections || {}).sort((a, b) => b[1] - a[1]);
    const chips = codes.map(([code, n]) => h('span', { class: 'chip ' + (code === 'internal_error' ? 'bad' : 'warn'), 'data-code': code }, code + ' ', h('b', {}, fmt.int(n))));
    $('errors').replaceChildren(h('span', {}, 'Errors by class:'), ...(chips.length ? chips : [h('span', { class: 'chip ok' }, h('b', {}, 'none'))]));
  }

  // ---- scores ----------------------------------------------------------------

  function shareBar(share, base, tier, W) {
    const H = 16, max = 1;
    const svg = s('svg', { width: W, height: H, viewBox: `0 0 ${W} ${H}`, 'aria-hidden': 'true' });
    svg.append(s('rect', { class: 'grid', x: 0, y: 3, width: W, height: H - 6, rx: 3, fill: 'none' }));
    if (isFinite(share)) svg.append(s('rect', { class: 'bar-t' + tier, x: 0, y: 3, width: Math.max(1, share / max * W), height: H - 6, rx: 3 }));
    if (isFinite(base)) {
      const bx = Math.min(W - 1, base / max * W);
      svg.append(s('line', { class: 'tick-base', x1: bx, x2: bx, y1: 0, y2: H }));
    }
    return svg;
  }

  function histogram(fig, buckets) {
    const W = widthOf(fig, 500), H = 150, L = 34, R = 4, T = 6, B = 20;
    const iw = W - L - R, ih = H - T - B, n = buckets.length;
    let max = 0;
    for (const b of buckets) max = Math.max(max, num(b.current) || 0, num(b.baseline) || 0);
    max = niceMax(max);
    const svg = s('svg', { width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'probability histogram' });
    for (let i = 0; i <= 2; i++) {
      const v = max * i / 2, yy = T + ih - v / max * ih;
      svg.append(s('line', { class: i ? 'grid' : 'axis', x1: L, x2: W - R, y1: yy, y2: yy }));
      svg.append(s('text', { x: L - 5, y: yy + 4, 'text-anchor': 'end' }, fmt.pct(v, 0)));
    }
    const bw = iw / n;
    buckets.forEach((b, i) => {
      const cur = num(b.current), base = num(b.baseline);
      const x = L + i * bw;
      if (cur > 0) svg.append(s('rect', { class: 'bar-now', x: x + 2, y: T + ih - cur / max * ih, width: Math.max(1, bw - 4), height: cur / max * ih, rx: 2 }));
      if (base > 0) svg.append(s('rect', { class: 'bar-base', x: x + 1, y: T + ih - base / max * ih, width: Math.max(1, bw - 2), height: base / max * ih }));
      if (i % Math.ceil(n / 5) === 0) svg.append(s('text', { x, y: H - 5 }, fmt.num(num(b.lower_bound), 2)));
    });
    svg.append(s('text', { x: W - R, y: H - 5, 'text-anchor': 'end' }, fmt.num(num(buckets[n - 1].upper_bound), 2)));
    fig.replaceChildren(h('figcaption', {}, h('span', { class: 'title' }, 'Probability'),
      h('span', { class: 'key' }, h('span', { class: 'sw box' }), 'window'),
      h('span', { class: 'key' }, h('span', { class: 'sw base' }), 'training baseline')), svg);
  }

  function renderScores() {
    const st = state.stats, body = $('scores-body');
    const totals = st.totals.tiers, all = totals.reduce((a, b) => a + b, 0);
    const pred = state.mon && state.mon.prediction;
    const kids = [];
    const W = Math.max(80, widthOf(body, 420) - 52 - 110 - 20);
    let shares, bases, basis;
    if (pred && pred.tiers && pred.tiers.length === 5 && pred.rows > 0) {
      shares = pred.tiers.map((t) => num(t.share));
      bases = pred.tiers.map((t) => num(t.baseline_share));
      basis = `last ${fmt.int(pred.rows)} leads (monitor window) against the training baseline`;
    } else if (pred && pred.tiers && pred.tiers.length === 5) {
      shares = totals.map((c) => all ? c / all : NaN);
      bases = pred.tiers.map((t) => num(t.baseline_share));
      basis = 'since start, against the training baseline';
    } else {
      shares = totals.map((c) => all ? c / all : NaN);
      bases = [NaN, NaN, NaN, NaN, NaN];
      basis = 'since start; no training baseline to compare with';
    }
    $('scores-sub').textContent = basis;
    if (all === 0 && !(pred && pred.rows > 0)) {
      kids.push(empty(h('b', {}, 'No leads scored yet.'), ' The tier mix and the probability histogram appear with the first scores.'));
    } else {
      const rows = [];
      for (let t = 5; t >= 1; t--) {
        rows.push(h('div', { class: 'tierrow', 'data-tier': t },
          h('span', { class: 'name' }, 'Tier ' + t),
          shareBar(shares[t - 1], bases[t - 1], t, W),
          h('span', { class: 'nums' }, h('b', {}, fmt.pct(shares[t - 1])), isFinite(bases[t - 1]) ? ' · base ' + fmt.pct(bases[t - 1]) : '')));
      }
      kids.push(h('div', { class: 'tiers' }, rows));
      kids.push(h('figcaption', {}, h('span', { class: 'key' }, h('span', { class: 'sw box t3' }), 'now'),
        isFinite(bases[0]) ? h('span', { class: 'key' }, h('span', { class: 'sw' }), '▏ baseline') : null));
    }
    // Leads per tier since start: the same counters as /metrics.
    kids.push(h('div', { class: 'tablewrap' }, h('table', { id: 'tier-totals' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Leads since start'), [1, 2, 3, 4, 5].map((t) => h('th', {}, 'T' + t)))),
      h('tbody', {}, h('tr', {}, h('td', {}, fmt.int(all)), totals.map((c, i) => h('td', { id: 'tier-total-' + (i + 1), 'data-value': c }, fmt.int(c))))))));
    const fig = h('figure', { id: 'histogram' });
    kids.push(fig);
    body.replaceChildren(...kids);
    if (pred && pred.buckets && pred.rows > 0) {
      histogram(fig, pred.buckets);
    } else if (pred && pred.buckets) {
      fig.replaceChildren(empty('The probability histogram appears once the monitor window holds scored leads.'));
    } else {
      fig.replaceChildren(empty('No probability histogram: drift monitoring is off (the model has no training baseline, or --monitor=false).'));
    }
  }

  // ---- drift -----------------------------------------------------------------

  function spark(values, limit, bad) {
    const W = 96, H = 22;
    const svg = s('svg', { width: W, height: H, viewBox: `0 0 ${W} ${H}`, 'aria-hidden': 'true', class: 'sparkline' });
    const vs = (values || []).map((v) => (v === null ? NaN : v));
    const good = vs.filter((v) => isFinite(v));
    if (good.length === 0) {
      svg.append(s('text', { x: 0, y: 15 }, 'no data yet'));
      return svg;
    }
    let max = Math.max(...good, isFinite(limit) ? limit : 0) * 1.1 || 1;
    const x = (i) => vs.length === 1 ? W / 2 : i / (vs.length - 1) * (W - 2) + 1;
    const y = (v) => H - 2 - v / max * (H - 4);
    if (isFinite(limit)) svg.append(s('line', { class: 'limit', x1: 0, x2: W, y1: y(limit), y2: y(limit) }));
    let d = '';
    let pen = false;
    vs.forEach((v, i) => {
      if (!isFinite(v)) { pen = false; return; }
      d += (pen ? 'L' : 'M') + x(i).toFixed(1) + ' ' + y(v).toFixed(1);
      pen = true;
    });
    if (good.length === 1) {
      const i = vs.findIndex((v) => isFinite(v));
      svg.append(s('circle', { cx: x(i), cy: y(vs[i]), r: 2, class: bad ? 'up' : 'rest' }));
    }
    svg.append(s('path', { class: 'spark' + (bad ? ' bad' : ''), d }));
    return svg;
  }

  const driftCols = [
    { key: 'name', label: 'Feature' },
    { key: 'status', label: 'Status' },
    { key: 'distance', label: 'Distance' },
    { key: 'psi', label: 'PSI' },
    { key: 'completeness', label: 'Completeness' },
    { key: 'out_of_range_ratio', label: 'Out of range' },
    { key: 'trend', label: 'Distance over time', nosort: true },
  ];

  function sortValue(f, key) {
    if (key === 'name') return f.name;
    if (key === 'status') return f.status === 'violation' ? 2 : f.status === 'ok' ? 1 : 0;
    const v = num(f[key]);
    return isFinite(v) ? v : -Infinity;
  }

  function driftRow(f, hist, checks, pinned) {
    const bad = f.status === 'violation';
    const dist = num(f.distance), lim = num(f.distance_limit), psi = num(f.psi);
    const comp = num(f.completeness), bcomp = num(f.baseline_completeness), oor = num(f.out_of_range_ratio);
    const distBad = bad && isFinite(lim) && dist > lim;
    const compBad = bad && isFinite(comp) && isFinite(bcomp) && comp < bcomp - (checks.completeness_tolerance || 0);
    const oorBad = bad && isFinite(oor) && oor > (checks.out_of_range_threshold || Infinity);
    const psiBad = bad && checks.psi_threshold > 0 && psi > checks.psi_threshold;
    return h('tr', { class: (bad ? 'violation' : '') + (pinned ? ' pinned' : ''), 'data-feature': f.name, 'data-status': f.status },
      h('td', {}, pinned ? 'score (probability)' : f.name),
      h('td', {}, h('span', { class: 'status ' + f.status }, f.status.replace('_', ' '))),
      h('td', { class: distBad ? 'hit' : '' }, fmt.num(dist, 3), isFinite(lim) ? h('span', { class: 'lim' }, '/ ' + fmt.num(lim, 3)) : null),
      h('td', { class: psiBad ? 'hit' : '' }, fmt.num(psi, 3)),
      h('td', { class: compBad ? 'hit' : '' }, fmt.pct(comp), isFinite(bcomp) ? h('span', { class: 'lim' }, 'base ' + fmt.pct(bcomp)) : null),
      h('td', { class: oorBad ? 'hit' : '' }, fmt.pct(oor)),
      h('td', {}, spark(hist, lim, bad)));
  }

  function renderDrift() {
    const body = $('drift-body'), mon = state.mon, st = state.stats;
    if (!st.routes.monitoring) {
      $('drift-sub').textContent = '';
      $('drift-count').textContent = '';
      body.replaceChildren(empty(h('b', {}, 'Drift monitoring is off.'), ' The model’s bundle has no training baseline, or the service runs with --monitor=false. Run `leadscore baseline` on the training data and serve the bundle to see drift here.'));
      return;
    }
    if (!mon) {
      body.replaceChildren(empty(state.monError ? 'Cannot read /v1/monitoring: ' + state.monError : 'Loading the drift report…'));
      return;
    }
    const w = mon.window, checks = mon.checks || {};
    $('drift-sub').textContent = `window ${fmt.int(w.rows)} leads · method ${checks.comparison_method || '–'} · report ${fmt.ago(new Date(mon.generated_at))}`;
    const viol = mon.features.filter((f) => f.status === 'violation');
    $('drift-count').textContent = viol.length ? viol.length + ' of ' + mon.features.length + ' features violate' : mon.features.length + ' features';
    const notes = [];
    if (w.rows < (checks.min_rows || 0)) {
      notes.push(empty(h('b', {}, `${fmt.int(w.rows)} of ${fmt.int(checks.min_rows)} leads`), ' needed before the checks run: score more leads to see distances.'));
    }
    const hist = st.drift_history || { features: {}, score: [] };
    const feats = mon.features.slice();
    const { key, dir } = state.sort;
    feats.sort((a, b) => {
      if (key === 'default') {
        const d = sortValue(b, 'status') - sortValue(a, 'status');
        return d || sortValue(b, 'distance') - sortValue(a, 'distance') || a.name.localeCompare(b.name);
      }
      const va = sortValue(a, key), vb = sortValue(b, key);
      const d = typeof va === 'string' ? va.localeCompare(vb) : va - vb;
      return d * dir || a.name.localeCompare(b.name);
    });
    const head = h('tr', {}, driftCols.map((c) => {
      const th = h('th', { scope: 'col' });
      if (c.nosort) { th.textContent = c.label; return th; }
      if (key === c.key) th.setAttribute('aria-sort', dir > 0 ? 'ascending' : 'descending');
      const b = h('button', { type: 'button', 'data-sort': c.key }, c.label);
      b.addEventListener('click', () => {
        state.sort = state.sort.key === c.key ? { key: c.key, dir: -state.sort.dir } : { key: c.key, dir: c.key === 'name' ? 1 : -1 };
        renderDrift();
      });
      th.append(b);
      return th;
    }));
    const rows = [];
    if (mon.prediction) rows.push(driftRow(mon.prediction, hist.score, checks, true));
    for (const f of feats) rows.push(driftRow(f, hist.features[f.name], checks, false));
    const scroller = body.querySelector('.driftscroll');
    const top = scroller ? scroller.scrollTop : 0;
    const wrap = h('div', { class: 'tablewrap driftscroll' }, h('table', { id: 'drift-table' }, h('thead', {}, head), h('tbody', {}, rows)));
    body.replaceChildren(...notes, wrap);
    wrap.scrollTop = top;
  }

  // ---- quality ---------------------------------------------------------------

  function renderQuality() {
    const body = $('quality-body'), st = state.stats, q = state.mon && state.mon.quality;
    if (!st.routes.monitoring) {
      body.replaceChildren(empty('Quality needs drift monitoring (a training baseline) to match outcomes with scores.'));
      return;
    }
    if (!q || !q.labeled_rows) {
      body.replaceChildren(empty(h('b', {}, 'No outcomes yet.'), ' POST converted or not to /v1/feedback with the lead’s id or the X-Request-Id of its score; AUC, precision and recall per tier cut-off and conversion per tier then appear here.'));
      return;
    }
    const bcm = q.binary_classification_metrics || {};
    const auc = bcm.auc ? num(bcm.auc.value) : NaN;
    const kids = [h('div', { class: 'kpis' },
      kpi('q-auc', 'AUC', fmt.num(auc, 3), '', bcm.auc && isFinite(num(bcm.auc.standard_deviation)) ? '± ' + fmt.num(num(bcm.auc.standard_deviation), 3) : ''),
      kpi('q-labeled', 'Outcomes', fmt.int(q.labeled_rows), '', 'matched to scores'),
      kpi('q-pos', 'Converted', fmt.int(q.positives), '', fmt.pct(q.positives / q.labeled_rows)))];
    kids.push(h('div', { class: 'tablewrap' }, h('table', {},
      h('thead', {}, h('tr', {}, h('th', {}, 'Cut-off'), h('th', {}, 'p ≥'), h('th', {}, 'Precision'), h('th', {}, 'Recall'), h('th', {}, 'Flagged'))),
      h('tbody', {}, q.tier_cutoffs.map((c) => h('tr', {}, h('td', {}, 'Tier ' + c.tier + '+'), h('td', {}, fmt.num(c.threshold, 3)),
        h('td', {}, fmt.pct(num(c.precision))), h('td', {}, fmt.pct(num(c.recall))), h('td', {}, fmt.pct(num(c.flagged_share)))))))));
    kids.push(h('div', { class: 'tablewrap' }, h('table', {},
      h('thead', {}, h('tr', {}, h('th', {}, 'Conversion'), h('th', {}, 'Outcomes'), h('th', {}, 'Now'), h('th', {}, 'Baseline'))),
      h('tbody', {}, q.tiers.map((t) => {
        const now = num(t.conversion_rate), base = num(t.baseline_conversion_rate);
        return h('tr', {}, h('td', {}, 'Tier ' + t.tier), h('td', {}, fmt.int(t.labeled)), h('td', {}, fmt.pct(now)), h('td', {}, fmt.pct(base)));
      })))));
    body.replaceChildren(...kids);
  }

  // ---- variants, bias and attribution -----------------------------------------

  function renderVariants() {
    const body = $('variants-body'), st = state.stats;
    if (!st.routes.variants) {
      body.replaceChildren(empty(h('b', {}, 'Not configured.'), ' One model serves all traffic. Configure a challenger to compare share, latency, agreement and the verdict here.'));
      return;
    }
    if (!state.variants) {
      body.replaceChildren(empty(state.variantsError ? 'Cannot read /v1/variants: ' + state.variantsError : 'Loading variants…'));
      return;
    }
    body.replaceChildren(renderVariantsBody(state.variants));
  }

  function renderVariantsBody(v) {
    if (!v.enabled) return empty(h('b', {}, 'Not configured.'), ' One model serves all traffic.');
    const cmp = new Map((v.comparisons || []).map((c) => [c.challenger, c]));
    const rows = (v.variants || []).map((x) => {
      const c = cmp.get(x.name);
      const lat = x.latency_ms || {};
      const champ = x.name === v.champion;
      const verdict = champ ? 'champion' : c ? c.verdict : '–';
      const vcls = /better/.test(verdict) ? 'ok' : /worse/.test(verdict) ? 'violation' : '';
      return h('tr', { 'data-variant': x.name },
        h('td', {}, h('b', {}, x.name), h('span', { class: 'lim' }, (x.role || '') + ' · ' + (x.model ? x.model.version : ''))),
        h('td', {}, x.role === 'shadow' ? 'shadow ' + fmt.pct(num(x.sample), 0) : fmt.pct(num(x.share)), h('span', { class: 'lim' }, 'of ' + fmt.pct(num(x.configured_share), 0))),
        h('td', {}, fmt.int(x.role === 'shadow' ? x.shadow_scored : x.leads)),
        h('td', {}, fmt.ms(num(lat.p50)) + ' / ' + fmt.ms(num(lat.p99))),
        h('td', {}, champ ? '–' : c ? fmt.pct(num(c.tier_agreement)) : '–', !champ && c ? h('span', { class: 'lim' }, 'ρ ' + fmt.num(num(c.rank_correlation), 2)) : null),
        h('td', { title: c ? c.summary : '' }, h('span', { class: 'status ' + vcls }, verdict)));
    });
    const kids = [h('div', { class: 'tablewrap' }, h('table', { id: 'variants-table' },
      h('thead', {}, h('tr', {}, ['Variant', 'Share', 'Leads', 'p50 / p99', 'Tier agreement', 'Verdict'].map((c) => h('th', {}, c)))),
      h('tbody', {}, rows)))];
    for (const c of v.comparisons || []) {
      if (c.summary) kids.push(h('p', { class: 'lim' }, c.challenger + ': ' + c.summary));
    }
    return h('div', {}, kids);
  }

  function biasBody(b) {
    const facets = b.facets || [];
    if (!facets.length) return empty('No facet has enough leads yet (at least ' + fmt.int(b.min_group_rows) + ' in a group).');
    const names = [];
    for (const f of facets) for (const m of f.metrics || []) if (!names.includes(m.name)) names.push(m.name);
    return h('div', {},
      h('p', { class: 'lim' }, 'positive outcome: ' + b.positive + (b.group_by ? ' · grouped by ' + b.group_by : '') + ' · tolerance ' + fmt.num(b.tolerance, 2)),
      h('div', { class: 'tablewrap' }, h('table', { id: 'bias-table' },
        h('thead', {}, h('tr', {}, h('th', {}, 'Facet'), h('th', {}, 'Leads'), names.map((n) => h('th', {}, n)))),
        h('tbody', {}, facets.map((f) => {
          const bad = (f.metrics || []).some((m) => m.status === 'violation');
          return h('tr', { class: bad ? 'violation' : '' }, h('td', {}, f.facet + ' = ' + f.facet_value), h('td', {}, fmt.int(f.rows)),
            names.map((n) => {
              const m = (f.metrics || []).find((x) => x.name === n);
              return h('td', { class: m && m.status === 'violation' ? 'hit' : '', title: m ? m.description : '' }, m ? fmt.num(num(m.value), 3) : '–');
            }));
        })))));
  }

  function attributionBody(a) {
    const kids = [h('div', { class: 'kpis' },
      kpi('attr-ndcg', 'NDCG', fmt.num(num(a.ndcg), 3), '', 'violation below ' + fmt.num(a.threshold, 2), a.status === 'violation'),
      kpi('attr-samples', 'Explained', fmt.int(a.samples), '', a.method + ' · ' + fmt.pct(a.sample_share, 0) + ' sampled'))];
    if (a.status === 'insufficient_data') kids.push(empty(fmt.int(a.samples) + ' of ' + fmt.int(a.min_rows) + ' explained leads needed before attributions are compared.'));
    const feats = (a.features || []).slice(0, 8);
    if (feats.length) {
      kids.push(h('div', { class: 'tablewrap' }, h('table', { id: 'attribution-table' },
        h('thead', {}, h('tr', {}, ['Feature', 'Baseline', 'Now', 'Rank', 'Share change'].map((c) => h('th', {}, c)))),
        h('tbody', {}, feats.map((f) => h('tr', { class: (a.moved_most || []).includes(f.name) && a.status === 'violation' ? 'violation' : '' },
          h('td', {}, f.name), h('td', {}, fmt.num(num(f.baseline), 3)), h('td', {}, fmt.num(num(f.current), 3)),
          h('td', {}, f.baseline_rank + ' → ' + (f.current_rank || '–')), h('td', {}, fmt.pct(num(f.share_change)))))))));
    }
    return h('div', {}, kids);
  }

  function renderFairness() {
    const body = $('fairness-body'), mon = state.mon;
    const kids = [];
    for (const [key, title, hint, draw] of [['bias', 'Bias', 'facet metrics', biasBody], ['attribution', 'Attribution drift', 'feature attributions against the baseline', attributionBody]]) {
      const sec = mon && mon[key];
      kids.push(h('h3', {}, title));
      if (!sec) kids.push(empty(h('b', {}, 'Not configured.'), ' No ' + hint + ' in /v1/monitoring.'));
      else kids.push(h('div', { id: 'fair-' + key }, draw(sec)));
    }
    body.replaceChildren(...kids);
  }

  // ---- score a lead ------------------------------------------------------------

  function hint(f) {
    if (f.min === null || f.max === null) return 'number';
    const r = (v) => Math.abs(v) >= 100 || Number.isInteger(v) ? fmt.int(v).replace(/,/g, '') : Number(v.toPrecision(3)).toString();
    return r(f.min) + ' – ' + r(f.max);
  }

  function buildForm() {
    const feats = state.stats.model.features;
    const sig = feats.map((f) => f.name).join(',');
    if (sig === state.formFor) return;
    state.formFor = sig;
    $('fields').replaceChildren(...feats.map((f, i) => h('div', { class: 'field' },
      h('label', { for: 'f-' + i, title: f.name }, f.name),
      h('input', { id: 'f-' + i, name: f.name, 'data-feature': f.name, inputmode: 'decimal', placeholder: hint(f) }))));
  }

  function inputs() { return Array.from($('fields').querySelectorAll('input')); }

  function setMsg(text, bad) {
    const m = $('score-msg');
    m.textContent = text;
    m.classList.toggle('bad', !!bad);
  }

  // parsePaste turns a JSON row or CSV line into {name: value}.
  function parsePaste(text) {
    const names = state.stats.model.features.map((f) => f.name);
    text = text.trim();
    if (!text) throw new Error('the paste box is empty');
    const out = {};
    const byOrder = (vals) => {
      if (vals.length !== names.length) throw new Error(`the row has ${vals.length} values; the model has ${names.length} features`);
      vals.forEach((v, i) => { out[names[i]] = v; });
    };
    if (text[0] === '{' || text[0] === '[') {
      let v;
      try { v = JSON.parse(text); } catch (e) { throw new Error('not valid JSON: ' + e.message); }
      if (Array.isArray(v) && Array.isArray(v[0])) v = v[0];
      if (v && !Array.isArray(v) && Array.isArray(v.leads)) v = v.leads[0];
      if (v && !Array.isArray(v) && Array.isArray(v.instances)) v = v.instances[0];
      if (v && !Array.isArray(v) && v.features) v = v.features;
      if (Array.isArray(v)) {
        byOrder(v);
      } else if (v && typeof v === 'object') {
        for (const [k, x] of Object.entries(v)) {
          if (!names.includes(k)) throw new Error(`unknown feature "${k}"`);
          out[k] = x;
        }
      } else {
        throw new Error('want an object of feature values or an array in feature order');
      }
      return out;
    }
    const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
    const cells = (l) => l.split(',').map((c) => c.trim().replace(/^"(.*)"$/, '$1'));
    if (lines.length === 2) {
      const hdr = cells(lines[0]), vals = cells(lines[1]);
      if (hdr.length !== vals.length) throw new Error('the CSV header and line have different lengths');
      hdr.forEach((k, i) => {
        if (!names.includes(k)) throw new Error(`unknown feature "${k}" in the CSV header`);
        out[k] = vals[i];
      });
      return out;
    }
    if (lines.length !== 1) throw new Error('paste one CSV line (or a header line and one line)');
    byOrder(cells(lines[0]));
    return out;
  }

  function fillFrom(values) {
    for (const el of inputs()) {
      const v = values[el.dataset.feature];
      el.value = v === undefined || v === null ? '' : String(v);
      el.removeAttribute('aria-invalid');
    }
  }

  async function submitScore(ev) {
    ev.preventDefault();
    const features = {};
    let bad = null;
    for (const el of inputs()) {
      el.removeAttribute('aria-invalid');
      const raw = el.value.trim();
      if (raw === '') continue;
      const v = Number(raw);
      if (!isFinite(v)) {
        el.setAttribute('aria-invalid', 'true');
        if (!bad) bad = { el, raw };
        continue;
      }
      features[el.dataset.feature] = v;
    }
    if (bad) {
      setMsg(`${bad.el.dataset.feature}: “${bad.raw}” is not a number`, true);
      bad.el.focus();
      return;
    }
    const btn = $('score-btn');
    btn.disabled = true;
    setMsg('Scoring…');
    try {
      const res = await api('/score?explain=5', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ leads: [{ id: 'console', features }] }),
      });
      const n = Object.keys(features).length;
      setMsg(`${n} of ${inputs().length} features given · ${fmt.ms(res.latency ? res.latency.total_ms : NaN)} in the server`);
      renderResult(res.results[0], res.model);
    } catch (e) {
      if (e instanceof AuthError) { setMsg('Waiting for an API key', true); return; }
      setMsg(e.message, true);
    } finally {
      btn.disabled = false;
    }
  }

  function renderResult(r, model) {
    const p = r.probability;
    const box = $('score-result');
    box.dataset.probability = String(p);
    box.dataset.tier = String(r.score);
    const head = h('div', { class: 'headline' },
      h('div', { class: 'tierbadge t' + r.score, id: 'result-tier', title: 'tier' }, String(r.score)),
      h('div', { class: 'prob', id: 'result-probability' }, fmt.pct(p, 1), h('small', {}, 'probability ' + p.toFixed(4) + ' · tier ' + r.score + ' of 5 · ' + model.name + ' ' + model.version)));
    const fig = h('figure', { id: 'waterfall' });
    box.replaceChildren(head, fig);
    waterfall(fig, r, p);
  }

  // waterfall draws the reasons as steps from the rest of the model (the
  // base value and every feature not listed) to the lead's log-odds.
  function waterfall(fig, r, p) {
    const reasons = (r.reasons || []).slice().sort((a, b) => Math.abs(b.contribution) - Math.abs(a.contribution));
    if (!reasons.length) {
      fig.replaceChildren(empty('No reasons: the model gives no feature contributions (a remote SageMaker score without a local model).'));
      return;
    }
    const pc = Math.min(Math.max(p, 1e-12), 1 - 1e-12);
    const margin = Math.log(pc / (1 - pc));
    const sum = reasons.reduce((a, x) => a + x.contribution, 0);
    const rest = margin - sum;
    const steps = [{ label: 'base + other features', from: 0, to: rest, cls: 'rest', v: rest }];
    let cum = rest;
    for (const x of reasons) {
      const val = x.value === null || x.value === undefined ? 'missing' : fmt.num(num(x.value), Number.isInteger(num(x.value)) ? 0 : 2);
      steps.push({ label: x.feature + ' = ' + val, from: cum, to: cum + x.contribution, cls: x.contribution >= 0 ? 'up' : 'down', v: x.contribution, feature: x.feature });
      cum += x.contribution;
    }
    steps.push({ label: 'log-odds of this lead', from: 0, to: margin, cls: 'total', v: margin });
    const W = widthOf(fig, 460), row = 22, T = 22, B = 6, H = T + steps.length * row + B;
    const LW = Math.min(200, Math.round(W * 0.42)), VW = 44;
    const lo = Math.min(0, ...steps.map((x) => Math.min(x.from, x.to)));
    const hi = Math.max(0, ...steps.map((x) => Math.max(x.from, x.to)));
    const span = hi - lo || 1;
    const x = (v) => LW + (v - lo) / span * (W - LW - VW);
    const svg = s('svg', { width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'contributions to the score' });
    svg.append(s('line', { class: 'axis', x1: x(0), x2: x(0), y1: T - 6, y2: H - B }));
    svg.append(s('text', { x: x(0), y: 11, 'text-anchor': 'middle' }, '0 (p = 0.5)'));
    steps.forEach((st, i) => {
      const y = T + i * row;
      const x0 = x(Math.min(st.from, st.to)), x1 = x(Math.max(st.from, st.to));
      svg.append(s('text', { x: LW - 8, y: y + 15, 'text-anchor': 'end', class: st.cls === 'total' ? 'val' : '' }, st.label.length > 34 ? st.label.slice(0, 33) + '…' : st.label));
      svg.append(s('rect', { class: st.cls, x: x0, y: y + 4, width: Math.max(1.5, x1 - x0), height: row - 8, rx: 2, 'data-feature': st.feature || null }));
      svg.append(s('text', { x: W - 2, y: y + 15, 'text-anchor': 'end', class: 'val' }, (st.v >= 0 && i > 0 && st.cls !== 'total' ? '+' : '') + st.v.toFixed(2)));
      if (i > 0 && i < steps.length - 1) {
        const px = x(st.from);
        svg.append(s('line', { class: 'conn', x1: px, x2: px, y1: y - 4, y2: y + 4 }));
      }
    });
    fig.replaceChildren(h('figcaption', {}, h('span', { class: 'title' }, 'Why: contributions in log-odds (TreeSHAP)'),
      h('span', { class: 'key' }, h('span', { class: 'sw box up' }), 'raises'), h('span', { class: 'key' }, h('span', { class: 'sw box down' }), 'lowers')), svg);
  }

  // ---- polling -----------------------------------------------------------------

  function renderAll() {
    renderOverview();
    renderTraffic();
    renderScores();
    renderDrift();
    renderQuality();
    renderVariants();
    renderFairness();
    buildForm();
  }

  async function poll() {
    try {
      state.stats = await api('/v1/stats');
    } catch (e) {
      if (e instanceof AuthError) {
        setLive('off', 'waiting for an API key');
        await waitKey();
        return poll();
      }
      setLive('off', 'cannot reach the service (' + e.message + ') · retrying');
      setTimeout(poll, STATS_EVERY * 2);
      return;
    }
    const now = Date.now();
    const jobs = [];
    if (state.stats.routes.monitoring && now - state.monAt >= MONITOR_EVERY) {
      state.monAt = now;
      jobs.push(api('/v1/monitoring').then((m) => { state.mon = m; state.monError = ''; }, (e) => { state.monError = e.message; }));
    }
    if (state.stats.routes.variants && now - state.variantsAt >= VARIANTS_EVERY) {
      state.variantsAt = now;
      jobs.push(api('/v1/variants').then((v) => { state.variants = v; state.variantsError = ''; }, (e) => { state.variantsError = e.message; }));
    }
    await Promise.all(jobs);
    renderAll();
    if (!document.body.dataset.ready) performance.mark('leadscore-ready'); // first render with data
    document.body.dataset.ready = 'true';
    setLive('on', 'live · ' + new Date().toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' }));
    setTimeout(poll, STATS_EVERY);
  }

  function init() {
    initKey();
    $('score-form').addEventListener('submit', submitScore);
    $('fill-btn').addEventListener('click', () => {
      try {
        fillFrom(parsePaste($('paste').value));
        $('score-form').requestSubmit();
      } catch (e) {
        setMsg(e.message, true);
      }
    });
    $('clear-btn').addEventListener('click', () => { fillFrom({}); $('paste').value = ''; setMsg(''); });
    $('paste').addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) { ev.preventDefault(); $('fill-btn').click(); }
    });
    for (const id of ['scores-body', 'quality-body', 'drift-body', 'variants-body', 'fairness-body']) {
      $(id).replaceChildren(empty('Waiting for the service…'));
    }
    // Charts are drawn for their box's width: draw again after a resize.
    let resizing = 0;
    window.addEventListener('resize', () => {
      clearTimeout(resizing);
      resizing = setTimeout(() => { if (state.stats) renderAll(); }, 150);
    });
    poll();
  }

  init();
})();
