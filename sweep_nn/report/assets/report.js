// sweep-nn report: the table, its filters, learning curves, parallel coordinates and the
// importance bars, drawn from the JSON blob in #report-data. Plain DOM and SVG, no library.
(function () {
  'use strict';
  var D = JSON.parse(document.getElementById('report-data').textContent);
  var SVG = 'http://www.w3.org/2000/svg';
  var rows = D.rows;
  var cols = D.columns;
  var dev = D.metric.dev;
  var state = {
    sort: { key: null, dir: 1 },
    text: '',
    status: D.initial.status || '',
    ranges: {},
    brushes: {},
    hidden: {},
    picked: []
  };
  cols.forEach(function (c) { state.hidden[c.key] = !!c.hidden; });

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    if (attrs) Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }
  function sv(tag, attrs) {
    var e = document.createElementNS(SVG, tag);
    if (attrs) Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    return e;
  }
  // toFixed rounds a tie (95.125) up, where Python, which writes filter's tables and the
  // summary, rounds it to the even digit (95.12): the page writes the numbers as they do
  function fixed(v, d) {
    var exact = Math.abs(v).toFixed(d + 30), cut = exact.indexOf('.') + d + 1;
    var tie = /^50*$/.test(exact.slice(cut));
    if (!tie || Number(exact.charAt(cut - 1)) % 2 === 1) return v.toFixed(d);
    return (v < 0 ? '-' : '') + exact.slice(0, cut);
  }
  function fmt(v, how) {
    if (v === null || v === undefined) return '';
    if (typeof v !== 'number') return String(v);
    switch (how) {
      case 'int': return String(Math.round(v));
      case 'f2': return fixed(v, 2);
      case 'f3': return fixed(v, 3);
      case 'f4': return fixed(v, 4);
      case 'g4': return Number(v.toPrecision(4)).toString();
      default: return String(v);
    }
  }
  function num(v) { return typeof v === 'number' && isFinite(v); }

  // --- colour: viridis, by dev score -------------------------------------------------------
  var VIRIDIS = ['#440154', '#482878', '#3e4989', '#31688e', '#26828e', '#1f9e89',
                 '#35b779', '#6ece58', '#b5de2b', '#fde725'];
  function hex(h) { return [1, 3, 5].map(function (i) { return parseInt(h.substr(i, 2), 16); }); }
  function viridis(t) {
    t = Math.max(0, Math.min(1, t)) * (VIRIDIS.length - 1);
    var i = Math.min(Math.floor(t), VIRIDIS.length - 2), f = t - i;
    var a = hex(VIRIDIS[i]), b = hex(VIRIDIS[i + 1]);
    return 'rgb(' + a.map(function (x, k) { return Math.round(x + (b[k] - x) * f); }).join(',') + ')';
  }
  var devValues = rows.filter(function (r) { return r.status === 'ok' && num(r[dev]); })
    .map(function (r) { return Math.max(r[dev], D.metric.floor); });
  var devLo = Math.min.apply(null, devValues.concat([Infinity]));
  var devHi = Math.max.apply(null, devValues.concat([-Infinity]));
  function devColor(r) {
    if (!num(r[dev])) return '#999';
    var v = Math.max(r[dev], D.metric.floor);
    return viridis(devHi > devLo ? (v - devLo) / (devHi - devLo) : 0.5);
  }

  // --- filtering ---------------------------------------------------------------------------
  function passesTable(r) {
    if (state.status && r.status !== state.status) return false;
    for (var key in state.ranges) {
      var rg = state.ranges[key], v = r[key];
      var active = num(rg.min) || num(rg.max);
      if (!active) continue;
      if (!num(v)) return false;
      if (num(rg.min) && v < rg.min) return false;
      if (num(rg.max) && v > rg.max) return false;
    }
    if (state.text) {
      var needle = state.text.toLowerCase(), found = false;
      for (var i = 0; i < cols.length && !found; i++) {
        var x = r[cols[i].key];
        if (x !== null && x !== undefined && fmt(x, cols[i].fmt).toLowerCase().indexOf(needle) >= 0) found = true;
      }
      if (!found) return false;
    }
    return true;
  }
  function passesBrushes(r) {
    for (var key in state.brushes) {
      var b = state.brushes[key], y = parallelY(key, r);
      if (y === null || y < b[0] || y > b[1]) return false;
    }
    return true;
  }
  function passes(r) { return passesTable(r) && passesBrushes(r); }

  // --- the table ---------------------------------------------------------------------------
  var table = document.getElementById('results-table');
  var thead = table.querySelector('thead'), tbody = table.querySelector('tbody');
  var trs = [];
  function buildHead() {
    thead.textContent = '';
    var head = el('tr', { 'class': 'head' }), ranges = el('tr', { 'class': 'ranges' });
    cols.forEach(function (c) {
      if (state.hidden[c.key]) return;
      var th = el('th', { 'data-key': c.key, title: 'sort by ' + c.key }, c.label);
      if (state.sort.key === c.key) {
        th.appendChild(el('span', { 'class': 'arrow' }, state.sort.dir > 0 ? '\u25B2' : '\u25BC'));
        th.setAttribute('aria-sort', state.sort.dir > 0 ? 'ascending' : 'descending');
      }
      th.addEventListener('click', function () {
        if (state.sort.key === c.key) state.sort.dir = -state.sort.dir;
        else state.sort = { key: c.key, dir: c.kind === 'num' ? -1 : 1 };
        buildHead(); renderTable();
      });
      head.appendChild(th);
      var cell = el('th');
      if (c.kind === 'num') {
        ['min', 'max'].forEach(function (bound) {
          var input = el('input', { type: 'number', step: 'any', placeholder: bound,
                                    'data-key': c.key, 'data-bound': bound,
                                    'aria-label': c.key + ' ' + bound });
          var rg = state.ranges[c.key];
          if (rg && num(rg[bound])) input.value = String(rg[bound]);
          input.addEventListener('input', function () {
            var v = input.value === '' ? null : Number(input.value);
            state.ranges[c.key] = state.ranges[c.key] || {};
            state.ranges[c.key][bound] = (v === null || isNaN(v)) ? null : v;
            update();
          });
          cell.appendChild(input);
        });
      }
      ranges.appendChild(cell);
    });
    thead.appendChild(head);
    thead.appendChild(ranges);
  }
  function buildBody() {
    trs = rows.map(function (r, i) {
      var tr = el('tr', { 'data-id': String(r.config_id), 'data-index': String(i),
                          'class': 'st-' + r.status });
      cols.forEach(function (c) {
        var td = el('td', { 'class': c.key + (c.kind === 'num' ? ' num' : ''), 'data-key': c.key });
        var v = r[c.key];
        if (c.fmt === 'link' && r.href) {
          var a = el('a', { href: r.href.split('/').map(encodeURIComponent).join('/') }, v);
          a.addEventListener('click', function (ev) { ev.stopPropagation(); });
          td.appendChild(a);
        } else {
          td.textContent = fmt(v, c.fmt);
        }
        if (v !== null && v !== undefined) td.title = String(v);
        tr.appendChild(td);
      });
      if (D.curves[r.config_id]) {
        tr.classList.add('has-curve');
        tr.addEventListener('click', function () { togglePick(String(r.config_id)); });
      }
      return tr;
    });
  }
  function compare(a, b) {
    var k = state.sort.key, x = rows[a][k], y = rows[b][k];
    var nx = x === null || x === undefined, ny = y === null || y === undefined;
    if (nx || ny) return nx === ny ? a - b : (nx ? 1 : -1);  // empty cells last, either way
    var c = (typeof x === 'number' && typeof y === 'number') ? x - y : String(x).localeCompare(String(y));
    return c !== 0 ? c * state.sort.dir : a - b;
  }
  function renderTable() {
    var idx = [];
    for (var i = 0; i < rows.length; i++) if (passes(rows[i])) idx.push(i);
    if (state.sort.key) idx.sort(compare);
    var frag = document.createDocumentFragment();
    idx.forEach(function (i) {
      var tr = trs[i];
      Array.prototype.forEach.call(tr.children, function (td) {
        td.style.display = state.hidden[td.getAttribute('data-key')] ? 'none' : '';
      });
      tr.classList.toggle('picked', state.picked.indexOf(String(rows[i].config_id)) >= 0);
      frag.appendChild(tr);
    });
    tbody.textContent = '';
    tbody.appendChild(frag);
    document.getElementById('row-count').textContent = idx.length + ' of ' + rows.length + ' rows shown';
  }
  function buildToggles() {
    var box = document.getElementById('column-toggles');
    cols.forEach(function (c) {
      var label = el('label'), box2 = el('input', { type: 'checkbox', 'data-key': c.key });
      box2.checked = !state.hidden[c.key];
      box2.addEventListener('change', function () {
        state.hidden[c.key] = !box2.checked; buildHead(); renderTable();
      });
      label.appendChild(box2);
      label.appendChild(document.createTextNode(' ' + c.label));
      box.appendChild(label);
    });
  }
  function setupControls() {
    var text = document.getElementById('text-filter');
    text.addEventListener('input', function () { state.text = text.value.trim(); update(); });
    var status = document.getElementById('status-filter');
    status.value = state.status;
    status.addEventListener('change', function () { state.status = status.value; update(); });
    document.getElementById('reset-filters').addEventListener('click', function () {
      state.ranges = {}; state.text = ''; state.status = ''; state.brushes = {};
      text.value = ''; status.value = '';
      buildHead(); drawParallel(); update();
    });
    document.getElementById('clear-brushes').addEventListener('click', function () {
      state.brushes = {}; drawParallel(); update();
    });
  }
  function update() { renderTable(); paintParallel(); }

  // --- learning curves ---------------------------------------------------------------------
  var CURVE_COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#17becf',
                      '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22'];
  function togglePick(id) {
    var at = state.picked.indexOf(id);
    if (at >= 0) state.picked.splice(at, 1); else state.picked.push(id);
    if (state.picked.length > 10) state.picked.shift();
    drawCurves(); renderTable();
  }
  function niceTicks(lo, hi, n) {
    if (!(hi > lo)) return [lo];
    var step = Math.pow(10, Math.floor(Math.log10((hi - lo) / n)));
    var err = (hi - lo) / n / step;
    step *= err >= 7.5 ? 10 : err >= 3.5 ? 5 : err >= 1.5 ? 2 : 1;
    var out = [];
    for (var t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) out.push(Number(t.toPrecision(12)));
    return out;
  }
  function drawCurves() {
    var box = document.getElementById('curve-chart'), legend = document.getElementById('curve-legend');
    box.textContent = ''; legend.textContent = '';
    var W = 1100, H = 340, L = 64, R = 16, T = 12, B = 40;
    var svg = sv('svg', { viewBox: '0 0 ' + W + ' ' + H, width: '100%', style: 'max-width:' + W + 'px', id: 'curve-svg' });
    box.appendChild(svg);
    var picked = state.picked.filter(function (id) { return D.curves[id]; });
    if (!picked.length) {
      var t = sv('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle' });
      t.textContent = Object.keys(D.curves).length ? 'click a row of the table to draw its learning curve'
                                                   : 'no loss curves in the parameters files';
      svg.appendChild(t);
      return;
    }
    var xmax = 0, ymin = Infinity, ymax = -Infinity;
    picked.forEach(function (id) {
      var c = D.curves[id];
      c[0].forEach(function (x, i) {
        var y = c[1][i];
        if (!num(y)) return;
        xmax = Math.max(xmax, x); ymin = Math.min(ymin, y); ymax = Math.max(ymax, y);
      });
    });
    var logY = ymin > 0 && ymax / ymin > 20;
    var fy = logY ? Math.log10 : function (v) { return v; };
    var y0 = fy(ymin), y1 = fy(ymax);
    if (!(y1 > y0)) { y0 -= 0.5; y1 += 0.5; }
    var pad = (y1 - y0) * 0.04; y0 -= pad; y1 += pad;
    function X(v) { return L + (xmax > 0 ? v / xmax : 0) * (W - L - R); }
    function Y(v) { return T + (1 - (fy(v) - y0) / (y1 - y0)) * (H - T - B); }
    var g = sv('g', { 'class': 'grid' }), ax = sv('g', { 'class': 'axis' });
    svg.appendChild(g); svg.appendChild(ax);
    niceTicks(0, xmax, 8).forEach(function (v) {
      g.appendChild(sv('line', { x1: X(v), x2: X(v), y1: T, y2: H - B }));
      var t = sv('text', { x: X(v), y: H - B + 14, 'text-anchor': 'middle' }); t.textContent = String(v); ax.appendChild(t);
    });
    var yt = logY ? niceTicks(Math.ceil(y0), Math.floor(y1), 6).filter(function (v) { return v === Math.round(v); })
                    .map(function (v) { return Math.pow(10, v); })
                  : niceTicks(y0, y1, 6);
    if (logY && yt.length < 3) yt = niceTicks(ymin, ymax, 5).filter(function (v) { return v > 0; });
    yt.forEach(function (v) {
      if (fy(v) < y0 || fy(v) > y1) return;
      g.appendChild(sv('line', { x1: L, x2: W - R, y1: Y(v), y2: Y(v) }));
      var t = sv('text', { x: L - 6, y: Y(v) + 4, 'text-anchor': 'end' }); t.textContent = Number(v.toPrecision(3)).toString(); ax.appendChild(t);
    });
    ax.appendChild(sv('line', { x1: L, x2: L, y1: T, y2: H - B }));
    ax.appendChild(sv('line', { x1: L, x2: W - R, y1: H - B, y2: H - B }));
    var xl = sv('text', { x: (L + W - R) / 2, y: H - 6, 'text-anchor': 'middle' }); xl.textContent = 'iteration'; ax.appendChild(xl);
    var yl = sv('text', { x: 14, y: (T + H - B) / 2, 'text-anchor': 'middle', transform: 'rotate(-90 14 ' + (T + H - B) / 2 + ')' });
    yl.textContent = 'training loss' + (logY ? ' (log scale)' : ''); ax.appendChild(yl);
    picked.forEach(function (id, k) {
      var c = D.curves[id], pts = [];
      c[0].forEach(function (x, i) { if (num(c[1][i])) pts.push(X(x).toFixed(1) + ',' + Y(c[1][i]).toFixed(1)); });
      var color = CURVE_COLORS[k % CURVE_COLORS.length];
      svg.appendChild(sv('polyline', { points: pts.join(' '), fill: 'none', stroke: color,
                                       'stroke-width': 1.8, 'class': 'curve', 'data-id': id }));
      var li = el('li'), sw = el('span', { 'class': 'swatch', style: 'background:' + color });
      li.appendChild(sw);
      li.appendChild(document.createTextNode(id));
      var row = rows.filter(function (r) { return String(r.config_id) === id; })[0];
      if (row && num(row[dev])) li.appendChild(el('span', { 'class': 'note' }, '  dev ' + fmt(row[dev], D.metric.unit ? 'f2' : 'f4')));
      var rm = el('button', { type: 'button', title: 'remove' }, '\u00D7');
      rm.addEventListener('click', function () { togglePick(id); });
      li.appendChild(rm);
      legend.appendChild(li);
    });
  }

  // --- parallel coordinates ----------------------------------------------------------------
  var PW = 1100, PH = 400, PT = 54, PB = 26, PL = 50, PR = 50;
  var paxes = D.parallel;
  var plines = [];
  function axisX(i) { return PL + (paxes.length > 1 ? i / (paxes.length - 1) : 0.5) * (PW - PL - PR); }
  function axisLabel(a) {
    var c = cols.filter(function (x) { return x.key === a.key; })[0];
    return a.key === 'abs_gap' ? '|gap|' : (c ? c.label : a.key);
  }
  function parallelY(key, r) {
    var a = null;
    for (var i = 0; i < paxes.length; i++) if (paxes[i].key === key) a = paxes[i];
    if (!a) return null;
    var v = key === 'abs_gap' ? (num(r.gap) ? Math.abs(r.gap) : null) : r[key];
    if (v === null || v === undefined) return null;
    if (a.kind === 'ord') {
      var at = -1;
      for (var j = 0; j < a.values.length; j++) if (a.values[j] === v) at = j;
      if (at < 0) return null;
      return PT + (a.values.length > 1 ? 1 - at / (a.values.length - 1) : 0.5) * (PH - PT - PB);
    }
    if (!num(v)) return null;
    v = Math.max(v, a.min);
    return PT + (a.max > a.min ? 1 - (v - a.min) / (a.max - a.min) : 0.5) * (PH - PT - PB);
  }
  function drawParallel() {
    var box = document.getElementById('parallel-chart');
    box.textContent = '';
    plines = [];
    var okRows = rows.filter(function (r) { return r.status === 'ok'; });
    if (paxes.length < 2 || !okRows.length) {
      box.appendChild(el('p', { 'class': 'note' }, 'not enough varying axes or ok rows to draw'));
      return;
    }
    var svg = sv('svg', { viewBox: '0 0 ' + PW + ' ' + PH, width: '100%', id: 'parallel-svg' });
    box.appendChild(svg);
    var lines = sv('g');
    svg.appendChild(lines);
    rows.forEach(function (r) {
      if (r.status !== 'ok') return;
      var pts = [];
      for (var i = 0; i < paxes.length; i++) {
        var y = parallelY(paxes[i].key, r);
        if (y === null) return;
        pts.push(axisX(i).toFixed(1) + ',' + y.toFixed(1));
      }
      var p = sv('polyline', { points: pts.join(' '), 'class': 'pline', stroke: devColor(r),
                               'data-id': String(r.config_id) });
      lines.appendChild(p);
      plines.push([p, r]);
    });
    paxes.forEach(function (a, i) {
      var x = axisX(i), g = sv('g', { 'class': 'axis', 'data-axis': a.key });
      g.appendChild(sv('line', { x1: x, x2: x, y1: PT, y2: PH - PB }));
      var t = sv('text', { x: x, y: PT - 14, 'text-anchor': 'middle', 'font-weight': 'bold' });
      t.textContent = axisLabel(a);
      g.appendChild(t);
      var ticks = a.kind === 'ord' ? a.values : niceTicks(a.min, a.max, 5);
      ticks.forEach(function (v) {
        var fake = {}; fake[a.key] = v; if (a.key === 'abs_gap') fake.gap = v;
        var y = parallelY(a.key, fake);
        if (y === null) return;
        g.appendChild(sv('line', { x1: x - 3, x2: x + 3, y1: y, y2: y }));
        var tt = sv('text', { x: x + 6, y: y + 4 });
        tt.textContent = typeof v === 'number' ? Number(v.toPrecision(4)).toString() : String(v);
        g.appendChild(tt);
      });
      var brush = sv('rect', { x: x - 9, width: 18, y: 0, height: 0, 'class': 'brush', 'data-axis': a.key });
      var b = state.brushes[a.key];
      if (b) { brush.setAttribute('y', b[0]); brush.setAttribute('height', b[1] - b[0]); } else brush.style.display = 'none';
      g.appendChild(brush);
      var hit = sv('rect', { x: x - 14, width: 28, y: PT - 6, height: PH - PT - PB + 12, 'class': 'hit', 'data-axis': a.key });
      g.appendChild(hit);
      hit.addEventListener('mousedown', function (ev) { startBrush(ev, a.key, svg, brush); });
      svg.appendChild(g);
    });
    // the colour scale
    var key = sv('g'), kx = PW - PR - 204;
    for (var s = 0; s < 40; s++) key.appendChild(sv('rect', { x: kx + s * 5, y: 4, width: 5.5, height: 8, fill: viridis(s / 39) }));
    var lo = sv('text', { x: kx - 4, y: 12, 'text-anchor': 'end' }); lo.textContent = 'dev ' + Number(devLo.toPrecision(4));
    var hi = sv('text', { x: kx + 204, y: 12 }); hi.textContent = String(Number(devHi.toPrecision(4)));
    key.appendChild(lo); key.appendChild(hi);
    svg.appendChild(key);
    paintParallel();
  }
  function svgY(svg, ev) {
    var pt = svg.createSVGPoint(); pt.x = ev.clientX; pt.y = ev.clientY;
    return pt.matrixTransform(svg.getScreenCTM().inverse()).y;
  }
  function startBrush(ev, key, svg, rect) {
    ev.preventDefault();
    var y0 = svgY(svg, ev), moved = false;
    function move(e) {
      var y = svgY(svg, e), a = Math.max(PT - 4, Math.min(y0, y)), b = Math.min(PH - PB + 4, Math.max(y0, y));
      if (b - a < 3) return;
      moved = true;
      rect.style.display = ''; rect.setAttribute('y', a); rect.setAttribute('height', b - a);
      state.brushes[key] = [a, b];
      update();
    }
    function up() {
      window.removeEventListener('mousemove', move);
      window.removeEventListener('mouseup', up);
      if (!moved) { delete state.brushes[key]; rect.style.display = 'none'; update(); }
    }
    window.addEventListener('mousemove', move);
    window.addEventListener('mouseup', up);
  }
  function paintParallel() {
    plines.forEach(function (pr) {
      var on = passes(pr[1]);
      pr[0].classList.toggle('off', !on);
      if (on && pr[0].parentNode) pr[0].parentNode.appendChild(pr[0]);  // selected lines on top
    });
  }

  // --- importance --------------------------------------------------------------------------
  function drawImportance() {
    var box = document.getElementById('importance-view'), imp = D.importance;
    if (!imp || imp.error) {
      box.appendChild(el('p', { 'class': 'note' }, 'not computed: ' + (imp ? imp.error : 'no data')));
      return;
    }
    var head = el('p');
    head.appendChild(el('span', { 'class': 'badge ' + (imp.exact ? 'exact' : 'estimate') }, imp.exact ? 'exact' : 'estimate'));
    head.appendChild(document.createTextNode(' Share of the variance of ' + imp.score + ' explained by each axis, each pair of axes, and everything of higher order.'));
    box.appendChild(head);
    box.appendChild(el('p', { 'class': 'note', id: 'importance-method' }, 'Method: ' + imp.method + '.'));
    imp.notes.forEach(function (n) { box.appendChild(el('p', { 'class': 'note' }, n)); });
    var list = el('div', { id: 'importance-bars' }), shown = 0, rest = 0;
    var mains = {};
    imp.axes.forEach(function (a) { mains[a] = true; });
    imp.ranked.forEach(function (part) {
      var name = part[0], share = part[1], kind = mains[name] ? 'main' : name === 'higher-order' ? 'higher' : 'pair';
      if (kind === 'pair' && (shown >= 12 || share < 0.005)) { rest += share; return; }
      if (kind === 'pair') shown++;
      addBar(list, name, share, kind);
    });
    if (rest > 0) addBar(list, 'other pairs', rest, 'pair');
    box.appendChild(list);
    var total = imp.ranked.reduce(function (s, p) { return s + p[1]; }, 0);
    box.appendChild(el('p', { 'class': 'note', id: 'importance-total' },
      'Shares sum to ' + (100 * total).toFixed(1) + '%; total variance ' + Number(imp.total_variance.toPrecision(4)) +
      ' over ' + imp.n_cells + ' cells' + (imp.exact ? '' : ' (' + imp.n_observed + ' observed)') + '.'));
  }
  function addBar(list, name, share, kind) {
    var row = el('div', { 'class': 'imp-row ' + kind, 'data-part': name, 'data-share': String(share), 'data-kind': kind });
    row.appendChild(el('span', null, kind === 'main' ? name + ' (main effect)' : name));
    var track = el('div');
    track.appendChild(el('div', { 'class': 'imp-bar', style: 'width:' + Math.max(0, share * 100).toFixed(2) + '%' }));
    row.appendChild(track);
    row.appendChild(el('span', { 'class': 'imp-share' }, (100 * share).toFixed(1) + '%'));
    list.appendChild(row);
  }

  // --- start -------------------------------------------------------------------------------
  Object.keys(D.initial.ranges).forEach(function (k) {
    state.ranges[k] = { min: D.initial.ranges[k].min, max: D.initial.ranges[k].max };
  });
  if (D.best && D.curves[D.best.curve_id]) state.picked.push(String(D.best.curve_id));
  buildToggles();
  buildHead();
  buildBody();
  setupControls();
  drawCurves();
  drawParallel();
  drawImportance();
  renderTable();
  document.body.setAttribute('data-ready', '1');
})();
