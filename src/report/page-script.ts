// The HTML page's own script: reads the chart specs from the page's JSON block and draws each
// with Observable Plot (inlined before it, with d3). Plain browser JavaScript kept as a string,
// since the project compiles for Node without DOM types; html.ts puts the format functions of
// page-format.ts in front of it so figures read the same in tables and on axes.

export const PAGE_SCRIPT = String.raw`
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('c1m-data').textContent);
  var contenders = Object.keys(data.colors);
  var colorScale = { type: 'ordinal', domain: contenders, range: contenders.map(function (c) { return data.colors[c]; }) };

  // Tick labels without trailing zeros: 1.00k -> 1k, 20.0 ms -> 20 ms, 47.7 MiB unchanged.
  function tidy(text) {
    return text.replace(/(\.\d*?)0+(?=\D|$)/, '$1').replace(/\.(?=\D|$)/, '');
  }

  function extent(values) {
    var lo = Infinity, hi = -Infinity;
    values.forEach(function (v) { if (v > 0 && v < lo) lo = v; if (v > hi) hi = v; });
    return [lo, hi];
  }

  // Ticks for a log axis: 1-2-5 steps (of 1024 for bytes), or fewer when that would crowd it.
  function logTicks(lo, hi, bytes) {
    var steps = bytes ? [1, 2, 5, 10, 20, 50, 100, 200, 500] : [1, 2, 5];
    var base = bytes ? 1024 : 10;
    var all = [], firsts = [];
    for (var e = Math.floor(Math.log(lo) / Math.log(base)) - 1; e <= Math.ceil(Math.log(hi) / Math.log(base)) + 1; e++) {
      steps.forEach(function (m) {
        var v = m * Math.pow(base, e);
        if (v >= lo * 0.999 && v <= hi * 1.001) { all.push(v); if (m === 1 || m === 10 || m === 100) firsts.push(v); }
      });
    }
    if (all.length <= 7) return all;
    return firsts.length >= 3 ? firsts : all.filter(function (_, i) { return i % 2 === 0; });
  }

  // Plot labels only some ticks of a log scale, whatever the format says, so log axes are drawn
  // as explicit axis marks whose text is ours.
  function logAxis(dim, values, unit, label) {
    var e = extent(values);
    var lo = e[0] / 1.25, hi = e[1] * 1.25;
    var ticks = logTicks(lo, hi, unit === 'bytes');
    var text = function (d) { return tidy(fmtUnit(unit, d)); };
    var axis = dim === 'x' ? Plot.axisX : Plot.axisY;
    var grid = dim === 'x' ? Plot.gridX : Plot.gridY;
    return {
      scale: { type: 'log', domain: [lo, hi] },
      marks: [grid(ticks), axis(ticks, { text: text, label: label, labelAnchor: dim === 'x' ? 'right' : 'top' })],
    };
  }

  // A linear axis from zero; byte axes step in whole KiB/MiB/GiB rather than powers of ten.
  function linearAxis(values, unit, label) {
    var hi = Math.max.apply(null, values.concat([0])) * 1.06 || 1;
    var step = 1;
    if (unit === 'bytes') while (step * 1024 <= hi) step *= 1024;
    var ticks = d3.ticks(0, hi / step, 6).map(function (t) { return t * step; });
    return { domain: [0, hi], ticks: ticks, tickFormat: function (d) { return tidy(fmtUnit(unit, d)); }, label: label, grid: true };
  }

  function common(width, height, extra) {
    var o = {
      width: width, height: height, marginLeft: 70, marginRight: 20, marginTop: 24, marginBottom: 40,
      style: { fontSize: '12px', background: 'transparent', overflow: 'visible' },
      color: colorScale,
    };
    for (var k in extra) o[k] = extra[k];
    return o;
  }

  function pointTitle(p) {
    return p.contender + ' #' + p.rep + '\n' + fmtCount(p.connections) + ' connections\n' + fmtBytes(p.bytes) + (p.fitted ? '' : '\nleft out of the fit');
  }

  var draw = {
    memory: function (spec, width) {
      var xs = spec.points.map(function (p) { return p.connections; });
      var ys = spec.points.map(function (p) { return p.bytes; }).concat(spec.fit.map(function (p) { return p.bytes; }));
      var x = spec.xLog ? logAxis('x', xs, 'count', 'connections →') : null;
      var y = spec.yLog ? logAxis('y', ys, 'bytes', null) : null;
      return Plot.plot(common(width, 300, {
        x: x ? x.scale : linearAxis(xs, 'count', 'connections →'),
        y: y ? y.scale : linearAxis(ys, 'bytes', null),
        marks: (x ? x.marks : []).concat(y ? y.marks : [], [
          Plot.line(spec.fit, { x: 'connections', y: 'bytes', z: 'series', stroke: 'contender', strokeWidth: spec.faint ? 1.2 : 1.6, strokeOpacity: spec.faint ? 0.45 : 0.85, className: 'c1m-fit' }),
          Plot.dot(spec.points.filter(function (p) { return p.fitted; }), {
            x: 'connections', y: 'bytes', fill: 'contender', r: 4, stroke: 'white', strokeWidth: 1, className: 'c1m-points',
            title: pointTitle, tip: true,
          }),
          // Steps the fit left out (fit: false, reaps) are drawn hollow.
          Plot.dot(spec.points.filter(function (p) { return !p.fitted; }), {
            x: 'connections', y: 'bytes', stroke: 'contender', fill: 'white', r: 4, strokeWidth: 1.5, className: 'c1m-points',
            title: pointTitle, tip: true,
          }),
        ]),
      }));
    },

    bars: function (spec, width) {
      var order = [];
      spec.bars.forEach(function (b) { if (order.indexOf(b.contender) < 0) order.push(b.contender); });
      var fx = spec.facet ? 'protocol' : undefined;
      var whiskers = spec.bars.filter(function (b) { return b.n > 1; });
      var top = Math.max.apply(null, spec.bars.map(function (b) { return b.max; }));
      return Plot.plot(common(width, 280, {
        x: { domain: order, label: null, tickSize: 0 },
        y: linearAxis([top * 1.1], spec.unit, null),
        fx: fx ? { label: null } : undefined,
        marks: [
          Plot.barY(spec.bars, {
            x: 'contender', y: 'median', fx: fx, fill: 'contender', fillOpacity: 0.9, inset: 6, className: 'c1m-bar',
            title: function (b) { return b.contender + ' · ' + b.protocol + '\n' + 'median ' + b.label + (b.n > 1 ? '\nmin ' + fmtUnit(spec.unit, b.min) + ', max ' + fmtUnit(spec.unit, b.max) + ' (' + b.n + ' reps)' : ''); },
            tip: true,
          }),
          Plot.ruleX(whiskers, { x: 'contender', y1: 'min', y2: 'max', fx: fx, stroke: '#333', strokeWidth: 1.3, className: 'c1m-whisker' }),
          Plot.tickY(whiskers, { x: 'contender', y: 'min', fx: fx, stroke: '#333', inset: 18 }),
          Plot.tickY(whiskers, { x: 'contender', y: 'max', fx: fx, stroke: '#333', inset: 18 }),
          Plot.text(spec.bars, { x: 'contender', y: 'max', fx: fx, text: 'label', dy: -9, fill: '#222', fontWeight: 600 }),
          Plot.ruleY([0]),
        ],
      }));
    },

    // Bars per step: one facet per step, one column per contender (and its driver), parts stacked.
    steps: function (spec, width) {
      var keys = spec.columns.map(function (c) { return c.key; });
      var labels = {};
      spec.columns.forEach(function (c) { labels[c.key] = c.label; });
      var top = Math.max.apply(null, spec.bars.map(function (b) { return b.y2; })
        .concat(spec.reps.map(function (r) { return r.value; }), spec.rules.map(function (r) { return r.value; }), [0]));
      var perStep = spec.rules.filter(function (r) { return r.step !== null; });
      var across = spec.rules.filter(function (r) { return r.step === null; });
      var rotate = keys.length * spec.steps.length * 70 > width;
      var roomy = (width - 90) / (keys.length * spec.steps.length) >= 44;
      var bars = function (parts, opacity, outline) {
        return Plot.barY(spec.bars.filter(function (b) { return parts.indexOf(b.part) >= 0; }), {
          x: 'column', fx: 'step', y1: 'y1', y2: 'y2', fill: 'contender', fillOpacity: opacity,
          stroke: outline ? 'contender' : undefined, strokeWidth: outline ? 1.5 : undefined,
          className: 'c1m-bar', title: 'title', tip: true,
        });
      };
      return Plot.plot(common(width, rotate ? 340 : 300, {
        marginBottom: rotate ? 78 : 40,
        fx: { domain: spec.steps, label: null, padding: 0.08 },
        x: { domain: keys, tickFormat: function (k) { return labels[k]; }, tickRotate: rotate ? -35 : 0, label: null, tickSize: 0, padding: 0.12 },
        y: linearAxis([top * 1.12], spec.unit, null),
        marks: [
          Plot.frame({ stroke: '#eef0f3' }),
          // Parts by how they are drawn: user time solid, kernel time pale on top, a driver outlined.
          bars(['achieved', 'user', 'total'], 0.9, false),
          bars(['kernel'], 0.38, false),
          bars(['driver'], 0.12, true),
          Plot.dot(spec.reps, { x: 'column', fx: 'step', y: 'value', r: 2.5, fill: '#222', fillOpacity: 0.35, className: 'c1m-rep' }),
          // Figures over the bars only where a column is wide enough to hold one; the tips always have it.
          Plot.text(roomy ? spec.totals : [], { x: 'column', fx: 'step', y: 'value', text: 'label', dy: -8, fill: '#222', fontSize: 10.5 }),
          Plot.ruleY(perStep, { fx: 'step', y: 'value', stroke: '#333', strokeDasharray: '5,4', className: 'c1m-offered' }),
          // The offered rate is named in the facet's corner: at the line itself it would sit on the bars' own figures.
          Plot.text(perStep, { fx: 'step', text: function (r) { return '- - ' + r.label; }, frameAnchor: 'top-left', dx: 6, dy: 6, fill: '#333', fontSize: 10.5 }),
          Plot.ruleY(across, { y: 'value', stroke: '#b3261e', strokeDasharray: '6,4', className: 'c1m-threshold' }),
          Plot.text(across, { y: 'value', text: 'label', frameAnchor: 'left', textAnchor: 'start', dy: 10, dx: 4, fill: '#b3261e', stroke: 'white', strokeWidth: 3, fontSize: 10.5 }),
          Plot.ruleY([0]),
        ],
      }));
    },

    loadLatency: function (spec, width) {
      var xs = spec.points.map(function (p) { return p.offered; });
      var ys = spec.points.map(function (p) { return p.us; }).concat(spec.reps.map(function (r) { return r.us; }));
      var x = spec.xLog ? logAxis('x', xs, 'rate', 'offered →') : null;
      var y = logAxis('y', ys, 'us', null);
      var lo = Math.min.apply(null, xs), hi = Math.max.apply(null, xs), pad = (hi - lo) * 0.08;
      return Plot.plot(common(width, 300, {
        x: x ? x.scale : { domain: [Math.max(0, lo - pad), hi + pad], tickFormat: function (d) { return tidy(fmtRate(d)); }, label: 'offered →', grid: true, ticks: 6 },
        y: y.scale,
        marks: (x ? x.marks : []).concat(y.marks, [
          Plot.dot(spec.reps, { x: 'offered', y: 'us', fill: 'contender', fillOpacity: 0.3, r: 2.5 }),
          Plot.line(spec.points.filter(function (p) { return p.percentile === 'p50'; }), { x: 'offered', y: 'us', z: 'series', stroke: 'contender', strokeWidth: 2, className: 'c1m-load-latency' }),
          Plot.line(spec.points.filter(function (p) { return p.percentile === 'p99'; }), { x: 'offered', y: 'us', z: 'series', stroke: 'contender', strokeWidth: 2, strokeDasharray: '6,4', className: 'c1m-load-latency' }),
          Plot.dot(spec.points, {
            x: 'offered', y: 'us', fill: 'contender', r: 3.5, className: 'c1m-points',
            title: function (p) { return p.series + ' at ' + fmtRate(p.offered) + ' offered' + (p.achieved !== null ? ' (' + fmtRate(p.achieved) + ' achieved)' : '') + '\n' + fmtUs(p.us); },
            tip: true,
          }),
        ]),
      }));
    },

    // Percentile curves: x is 1/(1 - p), so each added nine is one decade.
    nines: function (spec, width) {
      // The curve starts at the minimum (x = 1, p = 0), left unlabelled: 50 % sits close beside it.
      var ticks = [2, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8].filter(function (t) { return t <= spec.maxX * 1.001; });
      var name = function (t) {
        var p = 100 * (1 - 1 / t);
        return String(Number(p.toFixed(6))) + '%';
      };
      var y = logAxis('y', spec.points.map(function (p) { return p.us; }), 'us', null);
      var faint = spec.points.filter(function (p) { return !p.pooled; });
      var bold = spec.points.filter(function (p) { return p.pooled; });
      return Plot.plot(common(width, 300, {
        x: { type: 'log', domain: [1, Math.max(spec.maxX, 10) * 1.05], axis: null },
        y: y.scale,
        marks: y.marks.concat([
          Plot.gridX(ticks),
          Plot.axisX(ticks, { text: name, label: 'percentile →', labelAnchor: 'right' }),
          Plot.line(faint, { x: 'x', y: 'us', z: 'series', stroke: 'contender', strokeOpacity: 0.3, strokeWidth: 1.1, className: 'c1m-nines-rep' }),
          Plot.line(bold, { x: 'x', y: 'us', z: 'series', stroke: 'contender', strokeWidth: 2.2, className: 'c1m-nines' }),
          Plot.tip(bold, Plot.pointerX({
            x: 'x', y: 'us', stroke: 'contender',
            title: function (p) { return p.series + '\np' + Number(p.percentile.toFixed(4)) + ': ' + fmtUs(p.us); },
          })),
        ]),
      }));
    },

    // Bytes per connection against connections held, log x reaching at least spec.xMax.
    perConn: function (spec, width) {
      var xs = spec.points.map(function (p) { return p.connections; }).concat([spec.xMax]);
      var ys = spec.points.map(function (p) { return p.bytes; });
      var x = logAxis('x', xs, 'count', 'connections →');
      var y = spec.yLog ? logAxis('y', ys, 'bytes', null) : null;
      var ends = [];
      var byS = {};
      spec.points.forEach(function (p) { if (!byS[p.series] || byS[p.series].connections < p.connections) byS[p.series] = p; });
      Object.keys(byS).forEach(function (k) { ends.push(byS[k]); });
      // Names at the ends of the lines, unless two would sit on each other (the legend names them anyway).
      var span = Math.max.apply(null, ys) - Math.min(0, Math.min.apply(null, ys));
      var sorted = ends.map(function (p) { return spec.yLog ? Math.log(p.bytes) : p.bytes; }).sort(function (a, b) { return a - b; });
      var room = spec.yLog ? (Math.log(Math.max.apply(null, ys)) - Math.log(Math.min.apply(null, ys))) * 0.07 : span * 0.07;
      for (var i = 1; i < sorted.length; i++) if (sorted[i] - sorted[i - 1] < room) { ends = []; break; }
      var line = function (dashed) {
        return Plot.line(spec.points.filter(function (p) { return p.dashed === dashed; }), {
          x: 'connections', y: 'bytes', z: 'series', stroke: 'contender', strokeWidth: 2, strokeDasharray: dashed ? '6,4' : undefined,
          sort: 'connections', className: 'c1m-per-conn',
        });
      };
      return Plot.plot(common(width, 320, {
        marginRight: 110,
        x: x.scale,
        y: y ? y.scale : linearAxis(ys, 'bytes', null),
        marks: x.marks.concat(y ? y.marks : [], [
          line(false),
          line(true),
          Plot.dot(spec.points, {
            x: 'connections', y: 'bytes', fill: 'contender', r: 3.5, stroke: 'white', strokeWidth: 1, className: 'c1m-points',
            title: function (p) { return p.series + '\n' + fmtCount(p.connections) + ' connections\n' + fmtBytes(p.bytes) + ' per connection'; },
            tip: true,
          }),
          Plot.text(ends, { x: 'connections', y: 'bytes', text: 'series', dx: 8, textAnchor: 'start', fill: 'contender', fontSize: 11 }),
        ]),
      }));
    },

    timeline: function (spec, width) {
      var ok = spec.points.filter(function (p) { return !p.failed; });
      var failed = spec.points.filter(function (p) { return p.failed; });
      var line = function (points, dashed) {
        return Plot.line(points, {
          x: 'tS', y: 'value', z: 'series', stroke: 'contender', className: 'c1m-timeline',
          strokeWidth: spec.faint ? 1.2 : 1.8, strokeOpacity: spec.faint ? 0.5 : 1,
          strokeDasharray: dashed ? '5,4' : undefined,
        });
      };
      return Plot.plot(common(width, 260, {
        x: { label: 'seconds', grid: true },
        y: linearAxis(spec.points.map(function (p) { return p.value; }), spec.unit, null),
        marks: [
          line(ok, false),
          line(failed, true),
          Plot.tip(spec.points, Plot.pointerX({
            x: 'tS', y: 'value', stroke: 'contender',
            title: function (p) { return p.series + (p.failed ? ' (failed)' : '') + ' at ' + p.tS.toFixed(2) + ' s\n' + fmtUnit(spec.unit, p.value); },
          })),
        ],
      }));
    },

    ratios: function (spec, width) {
      var rows = [], figures = [];
      spec.points.forEach(function (p) {
        if (rows.indexOf(p.row) < 0) rows.push(p.row);
        if (figures.indexOf(p.figure) < 0) figures.push(p.figure);
      });
      var rs = spec.points.map(function (p) { return p.ratio; });
      var lo = Math.min(0.8, Math.min.apply(null, rs) / 1.2), hi = Math.max(1.25, Math.max.apply(null, rs) * 1.2);
      var ticks = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 0.8, 1, 1.25, 2, 5, 10, 20, 50, 100].filter(function (t) { return t >= lo && t <= hi; });
      return Plot.plot(common(width, 40 + figures.length * (rows.length * 22 + 14), {
        marginLeft: 110, marginRight: 150,
        x: { type: 'log', domain: [lo, hi], axis: null },
        y: { domain: rows, label: null },
        fy: { domain: figures, label: null },
        marks: [
          Plot.gridX(ticks),
          Plot.axisX(ticks, { text: function (d) { return tidy(fmtRatio(d)); }, label: 'ratio to A →', labelAnchor: 'right' }),
          Plot.ruleX([1], { stroke: '#555' }),
          Plot.link(spec.points, { x1: function () { return 1; }, x2: 'ratio', y1: 'row', y2: 'row', fy: 'figure', stroke: 'contender', strokeWidth: 2.5 }),
          Plot.dot(spec.points, { x: 'ratio', y: 'row', fy: 'figure', fill: 'contender', r: 4.5, className: 'c1m-ratio' }),
          // Labels sit on the far side of the dot from 1×, clear of the stalk.
          Plot.text(spec.points.filter(function (p) { return p.ratio >= 1; }), { x: 'ratio', y: 'row', fy: 'figure', text: 'label', dx: 9, textAnchor: 'start', fill: '#222' }),
          Plot.text(spec.points.filter(function (p) { return p.ratio < 1; }), { x: 'ratio', y: 'row', fy: 'figure', text: 'label', dx: -9, textAnchor: 'end', fill: '#222' }),
        ],
      }));
    },
  };

  var lastWidth = -1;
  function renderAll() {
    var width = document.documentElement.clientWidth;
    if (width === lastWidth) return;
    lastWidth = width;
    var drawn = 0;
    data.charts.forEach(function (spec) {
      var host = document.querySelector('[data-chart="' + spec.id + '"] .plot');
      if (!host) { console.error('c1m: no place for chart ' + spec.id); return; }
      try {
        host.replaceChildren(draw[spec.kind](spec, Math.max(280, host.clientWidth)));
        drawn++;
      } catch (err) {
        host.textContent = 'This chart could not be drawn: ' + err.message;
        console.error('c1m: chart ' + spec.id + ' failed', err);
      }
    });
    document.body.dataset.chartsDrawn = String(drawn);
  }

  renderAll();
  var timer = 0;
  window.addEventListener('resize', function () { clearTimeout(timer); timer = setTimeout(renderAll, 150); });
})();
`;
