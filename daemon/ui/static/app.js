/* taskclf-daemon ui: the labelling page. One script, no libraries, nothing from the network.
   It talks to the server that served it, with the token of the page's URL in a header
   (the event stream, which cannot send headers, in its query). */
(function () {
  'use strict';

  var TOKEN = new URLSearchParams(location.search).get('token') || '';
  var MIN = 60, HOUR = 3600, ASKS_SHOWN = 6;
  var S = {
    labels: [], learn: [], day: null, asks: null, status: null,
    date: null, user: null, lo: 0, hi: 1,
    sel: null, anchor: null, cursor: null, drag: false,
    pendingAsk: null, undo: [], es: null, esKey: '',
    baseline: null, waiting: null, drawn: false, loading: null, again: false
  };
  var fmtHM = null;
  var errors = [];

  function $(id) { return document.getElementById(id); }
  function h(tag, attrs, kids) {
    var n = document.createElement(tag);
    for (var k in attrs || {}) {
      if (k === 'text') n.textContent = attrs[k];
      else if (k === 'cls') n.className = attrs[k];
      else if (attrs[k] !== null && attrs[k] !== undefined && attrs[k] !== false) n.setAttribute(k, attrs[k] === true ? '' : attrs[k]);
    }
    (kids || []).forEach(function (c) { if (c !== null) n.append(c); });
    return n;
  }
  var NS = 'http://www.w3.org/2000/svg';
  function fail(what) {
    errors.push(String(what));
    document.body.setAttribute('data-errors', errors.join(' | '));
  }
  window.addEventListener('error', function (e) { fail(e.message); });
  window.addEventListener('unhandledrejection', function (e) { fail(e.reason && e.reason.message || e.reason); });

  // --- talking to the server ------------------------------------------------------------

  function api(method, path, body) {
    var opts = { method: method, cache: 'no-store', headers: { 'X-Taskclf-Token': TOKEN } };
    if (body !== undefined) {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body);
    }
    return fetch(path, opts).then(function (r) {
      return r.json().catch(function () { return null; }).then(function (doc) {
        if (!r.ok) {
          var e = new Error(doc && doc.error || ('HTTP ' + r.status));
          e.status = r.status; e.doc = doc;
          throw e;
        }
        return doc;
      });
    });
  }
  function q(params) {
    var out = [];
    for (var k in params) if (params[k]) out.push(k + '=' + encodeURIComponent(params[k]));
    return out.length ? '?' + out.join('&') : '';
  }

  // --- times ----------------------------------------------------------------------------

  function hm(epoch) {
    if (!fmtHM) {
      var opts = { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' };
      try { if (S.day && S.day.timezone) opts.timeZone = S.day.timezone; fmtHM = new Intl.DateTimeFormat('en-GB', opts); }
      catch (e) { delete opts.timeZone; fmtHM = new Intl.DateTimeFormat('en-GB', opts); }
    }
    return fmtHM.format(new Date(epoch * 1000));
  }
  function dur(seconds) {
    var m = Math.round(seconds / 60), hrs = Math.floor(m / 60), rest = m % 60;
    return hrs ? hrs + ' h ' + String(rest).padStart(2, '0') + ' min' : rest + ' min';
  }
  function range(a, b) { return hm(a) + '–' + hm(b); }
  function plural(n, word) { return n + ' ' + word + (n === 1 ? '' : 's'); }
  function iso(epoch) { return new Date(Math.round(epoch * 1000)).toISOString(); }
  function snap(t) { return Math.round(t / MIN) * MIN; }

  function colour(label) {
    for (var i = 0; i < S.labels.length; i++) if (S.labels[i].name === label) return S.labels[i].colour;
    return (S.day && S.day.reject_colour) || '#7f7f7f';
  }

  function say(text, kind) {
    var m = $('msg');
    m.textContent = text;
    m.className = 'msg' + (kind ? ' ' + kind : '');
  }

  // --- the timeline -----------------------------------------------------------------------

  var G = { padL: 10, padR: 10, axis: 22, model: 40, gap: 10, yours: 28, foot: 6 };
  var geo = null;

  function viewRange() {
    var d = S.day, a = Infinity, b = -Infinity;
    d.segments.forEach(function (g) { a = Math.min(a, g.start); b = Math.max(b, g.end); });
    d.spans.forEach(function (p) { a = Math.min(a, p.start); b = Math.max(b, p.end); });
    if (!isFinite(a)) {
      if (d.date === d.today) { a = d.now - 3 * HOUR; b = d.now + HOUR; }
      else { a = d.day_start + 8 * HOUR; b = d.day_start + 18 * HOUR; }
    }
    var floor = function (t) { return d.day_start + Math.floor((t - d.day_start) / HOUR) * HOUR; };
    var lo = Math.max(d.day_start, floor(a) - HOUR);
    var hi = Math.min(d.day_end, floor(b) + 2 * HOUR);
    if (hi - lo < 6 * HOUR) {
      var mid = (lo + hi) / 2;
      lo = Math.max(d.day_start, floor(mid - 3 * HOUR));
      hi = Math.min(d.day_end, lo + 6 * HOUR);
      lo = Math.max(d.day_start, hi - 6 * HOUR);
    }
    S.lo = lo; S.hi = hi;
  }

  function x(t) { return G.padL + (t - S.lo) / (S.hi - S.lo) * (geo.w - G.padL - G.padR); }
  function tAt(clientX) {
    var r = geo.svg.getBoundingClientRect();
    var px = (clientX - r.left) * (geo.w / r.width);
    var t = S.lo + (px - G.padL) / (geo.w - G.padL - G.padR) * (S.hi - S.lo);
    return Math.min(S.hi, Math.max(S.lo, t));
  }

  // the chart is one string of SVG markup, parsed once: far fewer calls than an element each
  function esc(v) {
    return String(v).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
  }
  function m(tag, attrs, title) {
    var out = '<' + tag;
    for (var k in attrs) out += ' ' + k + '="' + esc(attrs[k]) + '"';
    return out + (title === undefined ? '/>' : '><title>' + esc(title) + '</title></' + tag + '>');
  }
  var PATTERNS = '<defs><pattern id="ui-away" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">' +
    '<rect width="6" height="6" fill="#8a8f98" fill-opacity="0.35"/><line x1="0" y1="0" x2="0" y2="6" stroke="#5f6570" stroke-width="2"/></pattern>' +
    '<pattern id="ui-rej" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">' +
    '<rect width="6" height="6" fill="#9a9a9a"/><line x1="0" y1="0" x2="0" y2="6" stroke="#6a6a6a" stroke-width="3"/></pattern></defs>';

  function draw() {
    if (!S.drawn) performance.mark('timeline-draw-start');
    var box = $('tl'), d = S.day;
    var w = Math.max(280, Math.round(box.clientWidth || 800));
    var yM = G.axis, yY = G.axis + G.model + G.gap;
    var hgt = yY + G.yours + G.foot;
    geo = { w: w, yM: yM, yY: yY };
    var out = ['<svg xmlns="' + NS + '" viewBox="0 0 ' + w + ' ' + hgt + '" width="' + w + '" height="' + hgt + '" aria-hidden="true" focusable="false">', PATTERNS];
    var plot = w - G.padL - G.padR, hours = (S.hi - S.lo) / HOUR, pxh = plot / hours;
    var step = pxh >= 44 ? 1 : pxh >= 22 ? 2 : pxh >= 14 ? 3 : 6;
    for (var t = S.lo; t <= S.hi + 1; t += HOUR) {
      var k = Math.round((t - d.day_start) / HOUR);
      if (k % step) continue;
      var at = x(t);
      out.push(m('line', { 'class': 'gridl', x1: at, x2: at, y1: G.axis - 4, y2: yY + G.yours }));
      out.push('<text class="tick" x="' + at + '" y="13" text-anchor="' + (at < 24 ? 'start' : at > w - 24 ? 'end' : 'middle') + '">' + esc(hm(t)) + '</text>');
    }
    out.push(m('rect', { 'class': 'track', x: G.padL, y: yM, width: plot, height: G.model, rx: 4 }));
    out.push(m('rect', { 'class': 'track', x: G.padL, y: yY, width: plot, height: G.yours, rx: 4 }));
    d.segments.forEach(function (g) {
      var a = Math.max(g.start, S.lo), b = Math.min(g.end, S.hi);
      if (b <= a) return;
      var conf = g.confidence === null ? '–' : g.confidence.toFixed(2);
      out.push(m('rect', {
        'class': 'seg', x: x(a).toFixed(2), y: yM, width: Math.max(1, x(b) - x(a)).toFixed(2), height: G.model,
        fill: g.label === d.reject_label ? 'url(#ui-rej)' : colour(g.label),
        'fill-opacity': g.confidence === null ? 1 : (0.55 + 0.45 * Math.min(1, g.confidence)).toFixed(2),
        'data-label': g.label
      }, g.label + ' · ' + range(g.start, g.end) + ' · ' + dur(g.seconds) + ' · ' + plural(g.windows, 'window') + ' · confidence ' + conf));
      (g.away || []).forEach(function (p) {
        var pa = Math.max(p[0], S.lo), pb = Math.min(p[1], S.hi);
        if (pb > pa) out.push(m('rect', { 'class': 'away', x: x(pa).toFixed(2), y: yM, width: Math.max(1, x(pb) - x(pa)).toFixed(2), height: G.model }, 'away ' + range(p[0], p[1])));
      });
    });
    d.spans.forEach(function (p) {
      var a = Math.max(p.start, S.lo), b = Math.min(p.end, S.hi);
      if (b <= a) return;
      out.push(m('rect', {
        'class': 'span' + (p.id === S.lastAdded ? ' new' : ''), x: x(a).toFixed(2), y: yY + 2, width: Math.max(1, x(b) - x(a)).toFixed(2), height: G.yours - 4, rx: 3,
        fill: colour(p.label), 'data-id': p.id, 'data-label': p.label
      }, 'your label: ' + p.label + ' · ' + range(p.start, p.end) + ' · ' + dur(p.end - p.start) + ' · ' + p.provenance + ' · id ' + p.id));
    });
    if (!d.segments.length && !d.spans.length) {
      out.push('<text class="empty" x="' + w / 2 + '" y="' + (yM + G.model / 2 + 4) + '" text-anchor="middle">nothing logged this day</text>');
    }
    if (d.date === d.today && d.now > S.lo && d.now < S.hi) {
      out.push(m('line', { 'class': 'now', x1: x(d.now), x2: x(d.now), y1: G.axis - 4, y2: yY + G.yours }, 'now'));
    }
    out.push(m('rect', { 'class': 'sel', x: 0, y: G.axis - 2, width: 0, height: yY + G.yours - G.axis + 4, visibility: 'hidden' }));
    out.push(m('line', { 'class': 'cursor', x1: 0, x2: 0, y1: G.axis - 4, y2: yY + G.yours, visibility: 'hidden' }));
    out.push('</svg>');
    box.innerHTML = out.join('');
    var svg = geo.svg = box.firstChild;
    geo.sel = svg.querySelector('.sel');
    geo.cur = svg.querySelector('.cursor');
    svg.addEventListener('pointerdown', down);
    svg.addEventListener('pointermove', move);
    svg.addEventListener('pointerup', up);
    svg.addEventListener('pointercancel', up);
    // where the axis is, for people's tools and the tests: seconds lo..hi at pixels x0..x1
    box.setAttribute('data-lo', S.lo); box.setAttribute('data-hi', S.hi);
    box.setAttribute('data-x0', G.padL); box.setAttribute('data-x1', w - G.padR);
    box.setAttribute('data-lane', yM + G.model / 2);
    overlay();
    if (!S.drawn) {
      S.drawn = true;
      performance.mark('timeline-drawn');
      document.documentElement.setAttribute('data-drawn', String(Math.round(performance.now())));
    }
  }

  function overlay() {
    if (!geo) return;
    if (S.sel) {
      geo.sel.setAttribute('x', x(S.sel.a));
      geo.sel.setAttribute('width', Math.max(1, x(S.sel.b) - x(S.sel.a)));
      geo.sel.setAttribute('visibility', 'visible');
    } else geo.sel.setAttribute('visibility', 'hidden');
    if (S.cursor !== null) {
      geo.cur.setAttribute('x1', x(S.cursor)); geo.cur.setAttribute('x2', x(S.cursor));
      geo.cur.setAttribute('visibility', 'visible');
    } else geo.cur.setAttribute('visibility', 'hidden');
    describe();
  }

  function at(list, t) {
    for (var i = 0; i < list.length; i++) if (list[i].start <= t && t < list[i].end) return list[i];
    return null;
  }

  function describe() {
    var out = $('selection'), d = S.day;
    if (!d) return;
    if (S.sel) {
      var shares = {}, total = 0;
      d.segments.forEach(function (g) {
        var o = Math.min(g.end, S.sel.b) - Math.max(g.start, S.sel.a);
        if (o > 0) { shares[g.label] = (shares[g.label] || 0) + o; total += o; }
      });
      var parts = Object.keys(shares).sort(function (a, b) { return shares[b] - shares[a]; })
        .slice(0, 3).map(function (k) { return k + ' ' + Math.round(100 * shares[k] / total) + '%'; });
      out.textContent = 'Selected ' + range(S.sel.a, S.sel.b) + ' (' + dur(S.sel.b - S.sel.a) + ')' +
        (S.pendingAsk ? ', the suggestion' : '') +
        (parts.length ? '. The model logged: ' + parts.join(', ') : '. Nothing logged there') +
        '. Pick a label (1–8).';
    } else if (S.cursor !== null) {
      var g = at(d.segments, S.cursor), p = at(d.spans, S.cursor);
      out.textContent = 'Cursor ' + hm(S.cursor) + '. Model: ' +
        (g ? g.label + (g.confidence === null ? '' : ', confidence ' + g.confidence.toFixed(2)) + ' (' + range(g.start, g.end) + ')' : 'nothing logged') +
        '. Your label: ' + (p ? p.label + ' (' + range(p.start, p.end) + ')' : 'none') + '. Shift+arrows select.';
    } else {
      out.textContent = 'Drag across the timeline, or use the arrow keys on it, to select a span; then pick its label.';
    }
  }

  function select(a, b, ask) {
    if (b <= a) { S.sel = null; } else { S.sel = { a: a, b: b }; }
    S.pendingAsk = ask || null;
    overlay();
    markAsk();
  }

  function down(e) {
    if (e.button !== 0) return;
    geo.svg.setPointerCapture(e.pointerId);
    $('tl').focus({ preventScroll: true });
    S.drag = true;
    S.anchor = snap(tAt(e.clientX));
    S.cursor = S.anchor;
    select(0, 0);
    e.preventDefault();
  }
  function move(e) {
    if (!S.drag) return;
    S.cursor = snap(tAt(e.clientX));
    select(Math.min(S.anchor, S.cursor), Math.max(S.anchor, S.cursor));
  }
  function up(e) {
    if (!S.drag) return;
    S.drag = false;
    if (S.sel && S.sel.b - S.sel.a >= MIN) return;
    // a click: the span (lower lane) or the segment (upper lane) under the pointer
    var t = tAt(e.clientX), r = geo.svg.getBoundingClientRect();
    var y = (e.clientY - r.top) * (geo.w / r.width);
    var hit = y >= geo.yY ? at(S.day.spans, t) : at(S.day.segments, t);
    if (hit) { S.cursor = hit.start; select(hit.start, hit.end); }
  }

  function bounds() {
    var out = [S.lo, S.hi];
    S.day.segments.forEach(function (g) { out.push(g.start, g.end); });
    S.day.spans.forEach(function (p) { out.push(p.start, p.end); });
    return out.filter(function (t) { return t >= S.lo && t <= S.hi; }).sort(function (a, b) { return a - b; });
  }

  function key(e) {
    if (!S.day) return;
    var step = e.ctrlKey || e.metaKey ? HOUR : e.altKey ? MIN : 5 * MIN;
    var cur = S.cursor === null ? (S.sel ? S.sel.b : snap((S.lo + S.hi) / 2)) : S.cursor;
    var next = null;
    if (e.key === 'ArrowLeft') next = cur - step;
    else if (e.key === 'ArrowRight') next = cur + step;
    else if (e.key === 'Home') next = S.lo;
    else if (e.key === 'End') next = S.hi;
    else if (e.key === 'PageUp') next = bounds().filter(function (t) { return t < cur; }).pop();
    else if (e.key === 'PageDown') next = bounds().filter(function (t) { return t > cur; })[0];
    else if (e.key === 'Enter' || e.key === ' ') {
      var g = at(S.day.segments, cur) || at(S.day.spans, cur);
      if (g) select(g.start, g.end);
      e.preventDefault();
      return;
    } else return;
    e.preventDefault();
    if (next === undefined || next === null) next = cur;
    next = Math.min(S.hi, Math.max(S.lo, next));
    if (e.shiftKey) {
      if (S.anchor === null || (!S.sel && S.anchor !== cur)) S.anchor = cur;
      S.cursor = next;
      select(Math.min(S.anchor, next), Math.max(S.anchor, next));
    } else {
      S.cursor = next; S.anchor = next;
      select(0, 0);
    }
  }

  // --- labelling --------------------------------------------------------------------------

  function flash(id) {
    var r = document.querySelector('#tl rect.span[data-id="' + id + '"]');
    if (r) r.classList.add('flash');
  }

  function label(name) {
    if (!S.sel) { say('Select a span first: drag across the timeline, or pick a suggestion.', 'bad'); return; }
    var ask = S.pendingAsk && S.pendingAsk.start_epoch === S.sel.a && S.pendingAsk.end_epoch === S.sel.b ? S.pendingAsk : null;
    var req = ask
      ? api('POST', '/api/asks/answer', { ask_id: ask.id, label: name, date: S.date, user: S.user, accept: false })
      : api('POST', '/api/spans', { start: iso(S.sel.a), end: iso(S.sel.b), label: name, user: S.user });
    return done(req, name);
  }

  function done(req, name) {
    return req.then(function (r) {
      S.undo.push({ span: r.span, replaced: r.replaced, ask_id: r.ask_id || null });
      S.lastAdded = r.span.id;
      S.sel = null; S.pendingAsk = null;
      $('undo').disabled = false;
      say('Labelled ' + range(r.span.start, r.span.end) + ' as ' + name +
        (r.replaced ? ' (it replaced ' + r.replaced.label + ')' : '') + '. Undo: u.', 'ok');
      return refreshDay();
    }).catch(function (e) {
      if (e.status === 409 && e.doc && e.doc.conflict) {
        var c = e.doc.conflict;
        say('Refused: it overlaps your ' + c.label + ' span ' + range(c.start, c.end) + ' (id ' + c.id +
          ') with another label. Select only the time around it, or undo that span first.', 'bad');
        flash(c.id);
      } else say('Refused: ' + e.message, 'bad');
    });
  }

  function undo() {
    var last = S.undo.pop();
    $('undo').disabled = !S.undo.length;
    if (!last) { say('Nothing to undo.', ''); return; }
    return api('POST', '/api/spans/undo', last).then(function () {
      S.lastAdded = null;
      say('Undone: ' + last.span.label + ' ' + range(last.span.start, last.span.end) +
        (last.replaced ? ' (' + last.replaced.label + ' is back)' : '') + '.', 'ok');
      return refreshDay();
    }).catch(function (e) { say('Could not undo: ' + e.message, 'bad'); });
  }

  // --- the day's other panels -------------------------------------------------------------

  function drawSummary() {
    var d = S.day;
    var who = S.user ? S.user + ' (' + d.user_source + ')' : 'nobody';
    $('daysum').textContent = dur(d.total_minutes * 60) + ' logged · ' + d.windows + ' windows · ' +
      Math.round(d.reject_rate * 100) + '% unsure · ' + dur(d.labelled_minutes * 60) + ' labelled by you' +
      (d.away_minutes ? ' · ' + dur(d.away_minutes * 60) + ' away' : '') + ' · ' + who;
    $('tl').setAttribute('aria-label', 'Timeline of ' + d.date + ', ' + range(S.lo, S.hi) + ': the model\'s labels above, yours below');
    var body = $('totals').tBodies[0], rows = [];
    var total = d.total_minutes || 1, max = 0;
    for (var k in d.breakdown) max = Math.max(max, d.breakdown[k]);
    Object.keys(d.breakdown).forEach(function (name) {
      var bar = h('i');
      bar.style.width = (100 * d.breakdown[name] / (max || 1)).toFixed(1) + '%';
      bar.style.background = name === d.reject_label ? d.reject_colour : colour(name);
      var sw = h('i', { cls: 'sw', 'aria-hidden': 'true' });
      sw.style.background = colour(name);
      rows.push(h('tr', {}, [
        h('td', {}, [sw, ' ' + name]),
        h('td', { cls: 'time', text: dur(d.breakdown[name] * 60) + ' (' + Math.round(100 * d.breakdown[name] / total) + '%)' }),
        h('td', { cls: 'bar', 'aria-hidden': 'true' }, [bar])
      ]));
    });
    if (!rows.length) rows.push(h('tr', {}, [h('td', { colspan: '3', cls: 'muted', text: 'nothing logged this day' })]));
    body.replaceChildren.apply(body, rows);
    var pick = $('user');
    if (d.users.length > 1 || (S.user && d.users.indexOf(S.user) < 0 && d.users.length)) {
      $('userpick').hidden = false;
      var opts = d.users.slice();
      if (S.user && opts.indexOf(S.user) < 0) opts.unshift(S.user);
      pick.replaceChildren.apply(pick, opts.map(function (u) { return h('option', { value: u, text: u, selected: u === S.user }); }));
    } else $('userpick').hidden = true;
  }

  function markAsk() {
    document.querySelectorAll('#asks li').forEach(function (li) {
      li.classList.toggle('current', !!(S.pendingAsk && li.getAttribute('data-id') === S.pendingAsk.id));
    });
  }

  function drawAsks() {
    var a = S.asks, list = $('asks');
    if (!a || !a.user) { $('asksum').textContent = 'no one to ask about'; list.replaceChildren(); return; }
    $('asksum').textContent = a.asks.length
      ? 'Lowest confidence first: ' + a.served_today + ' of ' + a.limit + ' asked today, ' + a.remaining + ' left' +
        (a.pending > a.asks.length ? ' (' + a.pending + ' worth asking)' : '') + '. An answer and a skip both count.'
      : (a.remaining === 0 ? 'That is the ' + a.limit + ' asks of today (' + a.pending + ' more worth asking). Drag on the timeline to label anything.'
        : 'Nothing uncertain to ask about this day.');
    var shown = S.allAsks ? a.asks : a.asks.slice(0, ASKS_SHOWN);
    list.replaceChildren.apply(list, shown.map(function (k) {
      var when = range(k.start_epoch, k.end_epoch);
      var why = (k.reason === 'drift' ? 'drift: the model is off its usual week' : 'low confidence') +
        ' ' + k.confidence.toFixed(2) + ' · ' + plural(k.windows, 'window') + (k.guess ? ' · the model guessed ' + k.guess : '');
      var pick = h('button', { type: 'button', 'aria-label': 'Select ' + when + ' on the timeline', text: 'Select' });
      pick.addEventListener('click', function () {
        S.cursor = k.start_epoch; S.anchor = k.start_epoch;
        select(k.start_epoch, k.end_epoch, k);
        $('tl').focus();
        say('Suggestion ' + when + ' selected: pick its label (1–8).', '');
      });
      var kids = [h('span', { cls: 'what' }, [h('strong', { text: when }), ' (' + dur(k.end_epoch - k.start_epoch) + ')', h('span', { cls: 'why', text: why })]), pick];
      if (k.guess) {
        var yes = h('button', { type: 'button', 'aria-label': 'Label ' + when + ' as ' + k.guess, text: 'Yes, ' + k.guess });
        yes.addEventListener('click', function () {
          done(api('POST', '/api/asks/answer', { ask_id: k.id, label: k.guess, accept: true, date: S.date, user: S.user }), k.guess);
        });
        kids.push(yes);
      }
      var skip = h('button', { type: 'button', 'aria-label': 'Skip ' + when, text: 'Skip' });
      skip.addEventListener('click', function () {
        api('POST', '/api/asks/skip', { ask_id: k.id, date: S.date, user: S.user }).then(function () {
          if (S.pendingAsk && S.pendingAsk.id === k.id) select(0, 0);
          say('Skipped ' + when + ': it will not be asked again.', '');
          return refreshAsks();
        }).catch(function (e) { say('Could not skip: ' + e.message, 'bad'); });
      });
      kids.push(skip);
      return h('li', { 'data-id': k.id }, kids);
    }));
    if (a.asks.length > ASKS_SHOWN) {
      var more = h('button', { type: 'button', cls: 'more', 'aria-expanded': S.allAsks ? 'true' : 'false',
        text: S.allAsks ? 'Show the first ' + ASKS_SHOWN + ' only' : 'Show all ' + a.asks.length });
      more.addEventListener('click', function () { S.allAsks = !S.allAsks; drawAsks(); });
      list.append(h('li', { cls: 'morerow' }, [more]));
    }
    markAsk();
  }

  function fact(dl, name, value, cls) {
    dl.append(h('dt', { text: name }), h('dd', { text: value === null || value === undefined || value === '' ? '–' : String(value), cls: cls || null }));
  }

  function drawStatus() {
    var st = S.status, box = $('status'), pill = $('pill');
    pill.textContent = !st.running ? 'daemon not running' : st.healthy ? 'daemon running · healthy' : 'daemon running · degraded';
    pill.className = 'pill ' + (st.running && st.healthy ? 'ok' : 'bad');
    var dl = h('dl', { cls: 'facts' });
    fact(dl, 'daemon', st.running ? 'running (pid ' + st.pid + ')' : 'not running', st.running && st.healthy ? null : 'alert');
    fact(dl, 'model', st.model.bundle_id);
    fact(dl, 'store', st.store.id ? st.store.id + ' (' + st.store.method + ', loaded ' + st.store.loaded_at + ')' : null);
    var lw = st.last_window || {};
    fact(dl, 'last window', lw.bucket_start_ts ? lw.label + ' at ' + lw.bucket_start_ts + ' (' + lw.user_id + ')' : null);
    if (st.personalize) fact(dl, 'personalize', st.personalize);
    if (st.collector) fact(dl, 'collector', st.collector[0]);
    var kids = [dl];
    if (st.problems.length) kids.push(h('ul', { cls: 'lines alert' }, st.problems.map(function (p) { return h('li', { text: p }); })));
    var users = Object.keys(st.drift);
    if (users.length) {
      kids.push(h('h3', { text: 'Drift (the last 24 h against the week before)' }));
      users.forEach(function (u) {
        var dr = st.drift[u];
        kids.push(h('ul', { cls: 'lines' + (dr.alerts.length ? ' warn' : '') }, dr.lines.map(function (l) { return h('li', { text: l }); })));
      });
    } else if (st.running) kids.push(h('p', { cls: 'muted', text: 'Drift: no figures yet.' }));
    if (S.swapNote) kids.push(h('p', { cls: 'swap', text: S.swapNote }));
    box.replaceChildren.apply(box, kids);
    noticeSwap(st);
  }

  function ids(st) { return { model: st.model.bundle_id || null, store: st.store.id || null }; }

  function noticeSwap(st) {
    var now = ids(st);
    // the first ids seen (or the first once a daemon runs) are what a swap is measured from
    if (!S.baseline || (!S.baseline.model && !S.baseline.store)) { S.baseline = now; return; }
    if (now.model === S.baseline.model && now.store === S.baseline.store) return;
    var parts = [];
    if (now.model !== S.baseline.model) parts.push('model ' + (S.baseline.model || 'none') + ' → ' + (now.model || 'none'));
    if (now.store !== S.baseline.store) parts.push('store ' + (S.baseline.store || 'none') + ' → ' + (now.store || 'none'));
    var when = new Intl.DateTimeFormat('en-GB', { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' }).format(new Date());
    S.swapNote = 'The daemon swapped at ' + when + ': ' + parts.join(', ') + '.';
    S.baseline = now;
    if (S.waiting) {
      var out = document.querySelector('.action[data-name="' + S.waiting + '"] .swapped');
      if (out) out.textContent = S.swapNote;
      S.waiting = null;
    }
    drawStatus();
  }

  // --- learning ---------------------------------------------------------------------------

  function show(v) {
    if (v === null || v === undefined) return '–';
    if (typeof v === 'boolean') return v ? 'yes' : 'no';
    if (typeof v === 'number') return Number.isInteger(v) ? String(v) : String(Math.round(v * 10000) / 10000);
    if (Array.isArray(v)) return v.map(show).join(', ');
    if (typeof v === 'object') return Object.keys(v).map(function (k) { return k + ' ' + show(v[k]); }).join(', ');
    return String(v);
  }
  function flat(obj, prefix, out) {
    Object.keys(obj).forEach(function (k) {
      var v = obj[k], name = prefix ? prefix + ' ' + k : k;
      if (v && typeof v === 'object' && !Array.isArray(v)) flat(v, name, out);
      else out[name] = v;
    });
    return out;
  }
  function table(rows) {
    var cols = [];
    var flats = rows.map(function (r) { return flat(r, '', {}); });
    flats.forEach(function (r) { Object.keys(r).forEach(function (k) { if (cols.indexOf(k) < 0) cols.push(k); }); });
    return h('div', { cls: 'scroll' }, [h('table', { cls: 'report' }, [
      h('thead', {}, [h('tr', {}, cols.map(function (c) { return h('th', { scope: 'col', text: c }); }))]),
      // a row that did not pass (a gate, a check) stands out
      h('tbody', {}, flats.map(function (r) { return h('tr', { cls: r.passed === false ? 'alert' : null }, cols.map(function (c) { return h('td', { text: show(r[c]) }); })); }))
    ])]);
  }
  function rowsOf(v) { return Array.isArray(v) && v.length > 0 && v.every(function (r) { return r && typeof r === 'object' && !Array.isArray(r); }); }
  function hasRows(v) { return !!v && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).some(function (c) { return rowsOf(v[c]) || hasRows(v[c]); }); }
  function linesOf(v) { return Array.isArray(v) && v.length > 0 && v.every(function (l) { return typeof l === 'string'; }); }
  // the report in its own order: values as facts, lists of objects as tables (also those
  // inside an object, e.g. a threshold's sweep), the command's own lines as text
  function drawDoc(doc, prefix, kids, state) {
    Object.keys(doc).forEach(function (k) {
      var v = doc[k], name = prefix ? prefix + ' ' + k : k;
      if (!prefix && (k === 'report' || k === 'explanation') && linesOf(v)) { state.lines.push(v); return; }
      if (rowsOf(v)) { state.dl = null; kids.push(h('h4', { text: name }), table(v)); return; }
      if (hasRows(v)) { drawDoc(v, name, kids, state); return; }
      if (!state.dl) { state.dl = h('dl', { cls: 'facts' }); kids.push(state.dl); }
      fact(state.dl, name, show(v));
    });
  }
  function report(run) {
    var kids = [h('p', { cls: run.ok ? '' : 'alert', text: (run.step === 'ship' ? 'Ship' : 'Dry run') + (run.ok ? ' done' : ' failed (exit ' + run.exit + ')') + ' in ' + run.seconds + ' s.' })];
    if (run.verdict) kids.push(h('p', { cls: 'verdict ' + (run.verdict.ships ? 'good' : 'alert'), text: run.verdict.text }));
    var doc = run.report;
    if (doc) {
      var state = { dl: null, lines: [] };
      drawDoc(doc, '', kids, state);
      state.lines.forEach(function (lines) {
        kids.push(h('details', { open: true }, [h('summary', { text: 'the report as the command prints it' }), h('pre', { text: lines.join('\n') })]));
      });
    } else if (run.text) kids.push(h('pre', { text: run.text }));
    if (run.errors) kids.push(h('pre', { cls: 'err', text: run.errors }));
    return kids;
  }

  function drawLearn() {
    var box = $('learn');
    box.replaceChildren.apply(box, S.learn.map(function (a) {
      var out = h('div', { cls: 'out', 'aria-live': 'polite' });
      var swapped = h('p', { cls: 'swapped swap', 'aria-live': 'polite' });
      var dry = h('button', { type: 'button', text: 'Dry run: show what it would do' });
      var ship = h('button', { type: 'button', text: 'Ship it', disabled: true });
      var why = h('span', { cls: 'why muted', 'aria-live': 'polite' });
      var busy = function (on) { dry.disabled = on; if (on) { ship.disabled = true; why.textContent = ''; } };
      dry.addEventListener('click', function () {
        busy(true);
        out.replaceChildren(h('p', { text: 'Running the dry run (nothing is written)…' }));
        api('POST', '/api/learn/' + a.name + '/dry-run', {}).then(function (run) {
          out.replaceChildren.apply(out, report(run));
          busy(false);
          // only a dry run with something to ship may be shipped: a refused retrain would
          // deploy nothing, so the button stays off and says why
          ship.disabled = !run.ships;
          ship.setAttribute('data-run', run.id);
          if (run.ok && !run.ships) why.textContent = 'Nothing to ship' + (run.report && run.report.decision ? ': the dry run decided ' + run.report.decision : '') + '.';
        }).catch(function (e) { busy(false); out.replaceChildren(h('p', { cls: 'alert', text: e.message })); });
      });
      ship.addEventListener('click', function () {
        var id = ship.getAttribute('data-run');
        busy(true);
        out.append(h('p', { text: 'Shipping…' }));
        api('POST', '/api/learn/' + a.name + '/ship', { dry_run_id: id }).then(function (run) {
          out.replaceChildren.apply(out, report(run));
          busy(false);
          ship.disabled = true;
          if (run.ok && !run.ships) swapped.textContent = 'Nothing was shipped: ' + (run.verdict ? run.verdict.text : 'see the report');
          else if (run.ok) {
            S.waiting = a.name;
            swapped.textContent = 'Shipped. Waiting for the daemon to swap (model ' + (S.baseline && S.baseline.model || '–') + ', store ' + (S.baseline && S.baseline.store || '–') + ' now)…';
          }
        }).catch(function (e) { busy(false); out.append(h('p', { cls: 'alert', text: e.message })); });
      });
      return h('div', { cls: 'action', 'data-name': a.name }, [
        h('h3', { text: a.heading }), h('p', { cls: 'muted', text: a.about }),
        h('div', { cls: 'actions' }, [dry, ship, why]), swapped, out
      ]);
    }));
  }

  // --- loading ----------------------------------------------------------------------------

  function refreshAsks() {
    return api('GET', '/api/asks' + q({ date: S.date, user: S.user })).then(function (a) { S.asks = a; drawAsks(); });
  }

  function refreshDay() {
    if (S.loading) { S.again = true; return S.loading; }
    var asks = api('GET', '/api/asks' + q({ date: S.date, user: S.user }));
    // the timeline first: it does not wait for the suggestions
    var day = Promise.all([S.meta, api('GET', '/api/day' + q({ date: S.date, user: S.user }))]).then(function (r) {
      var d = r[1];
      S.labels = r[0].labels;
      var first = !S.day || S.day.date !== d.date || S.day.user !== d.user;
      if (!S.day || S.day.timezone !== d.timezone) fmtHM = null;
      S.day = d;
      S.date = d.date; S.user = d.user;
      $('day').value = S.date;
      if (first) { viewRange(); S.sel = null; S.cursor = null; S.anchor = null; S.pendingAsk = null; }
      draw(); drawSummary();
      listen();
    });
    var both = Promise.all([day, asks]).then(function (r) { S.asks = r[1]; drawAsks(); });
    S.loading = both.catch(function (e) { say('Could not load the day: ' + e.message, 'bad'); })
      .then(function () {
        S.loading = null;
        if (S.again) { S.again = false; return refreshDay(); }
      });
    return S.loading;
  }

  function refreshStatus() {
    return api('GET', '/api/status').then(function (st) { S.status = st; drawStatus(); })
      .catch(function (e) { $('pill').textContent = 'no answer from the page\'s server: ' + e.message; });
  }

  function listen() {
    var k = S.date + '|' + S.user;
    if (S.es && S.esKey === k) return;
    if (S.es) S.es.close();
    S.esKey = k;
    // files: the state of the day's files the page drew; what changed before the stream
    // opened is sent at once
    S.es = new EventSource('/api/events' + q({ token: TOKEN, date: S.date, user: S.user, files: S.day.files }));
    S.es.addEventListener('day', function () { refreshDay(); });
    S.es.addEventListener('status', function () { refreshStatus(); });
  }

  function go(date) {
    S.date = date;
    S.undo = []; $('undo').disabled = true;
    history.replaceState(null, '', location.pathname + location.search + '#' + date);
    return refreshDay();
  }
  function shift(days) {
    var d = new Date(S.date + 'T12:00:00Z');
    d.setUTCDate(d.getUTCDate() + days);
    return go(d.toISOString().slice(0, 10));
  }

  function start() {
    var hash = location.hash.replace('#', '');
    S.date = /^\d{4}-\d{2}-\d{2}$/.test(hash) ? hash : null;
    S.meta = api('GET', '/api/meta');
    refreshDay();
    refreshStatus();
    S.meta.then(function (m) {
      S.labels = m.labels; S.learn = m.learn;
      var box = $('labels');
      box.replaceChildren.apply(box, S.labels.map(function (l, i) {
        var sw = h('i', { cls: 'sw', 'aria-hidden': 'true' });
        sw.style.background = l.colour;
        var b = h('button', { type: 'button', cls: 'lab', 'data-label': l.name, 'aria-keyshortcuts': String(i + 1) }, [h('kbd', { text: String(i + 1) }), sw, l.name]);
        b.addEventListener('click', function () { label(l.name); });
        return b;
      }));
      drawLearn();
    }).catch(function (e) { say('Could not start: ' + e.message, 'bad'); });
    $('tl').addEventListener('keydown', key);
    document.addEventListener('keydown', function (e) {
      var tag = e.target && e.target.tagName;
      if (tag === 'INPUT' || tag === 'SELECT' || tag === 'TEXTAREA' || e.ctrlKey || e.metaKey || e.altKey) return;
      var n = Number(e.key);
      if (n >= 1 && n <= S.labels.length) { e.preventDefault(); label(S.labels[n - 1].name); }
      else if (e.key === 'u') { e.preventDefault(); undo(); }
      else if (e.key === 'Escape') { S.pendingAsk = null; select(0, 0); say('', ''); }
      else if (e.key === '[') shift(-1);
      else if (e.key === ']') shift(1);
    });
    $('undo').addEventListener('click', undo);
    $('clear').addEventListener('click', function () { S.pendingAsk = null; select(0, 0); });
    $('prev').addEventListener('click', function () { shift(-1); });
    $('next').addEventListener('click', function () { shift(1); });
    $('today').addEventListener('click', function () { go(S.day ? S.day.today : null); });
    $('day').addEventListener('change', function () { if ($('day').value) go($('day').value); });
    $('user').addEventListener('change', function () { S.user = $('user').value; S.undo = []; refreshDay(); });
    var resized = null;
    window.addEventListener('resize', function () {
      clearTimeout(resized);
      resized = setTimeout(function () { if (S.day) draw(); }, 100);
    });
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
