/* The "Bawa data ke pusat" page: take the kit's bundles, send them to central, hand the
   receipts back to the kit. Works from the service worker's copy with no kit in reach. */
(function () {
  'use strict';
  var d = document;
  var config = JSON.parse(d.getElementById('carry-config').textContent);
  var T = config.strings;
  var status = d.getElementById('carry-status');
  var list = d.getElementById('carry-list');
  var none = d.getElementById('carry-none');
  var take = d.getElementById('carry-take');
  var send = d.getElementById('carry-send');
  var registration = null;
  /* Service workers need a secure origin (https, or localhost). A phone on the kit's Wi-Fi
     opening http://10.x.x.x has none: the bundle still goes into IndexedDB (which Chromium
     allows on plain http) and "Kirim sekarang" still uploads, but only while this tab lives,
     so the kader is told to keep it open. */
  var secure = window.isSecureContext === true;
  d.body.dataset.secure = secure ? 'yes' : 'no';
  if (!secure) {
    var notice = d.createElement('p');
    notice.id = 'carry-insecure';
    notice.className = 'flash';
    notice.setAttribute('role', 'note');
    notice.textContent = T.carry_insecure;
    status.parentNode.insertBefore(notice, status);
  }

  function say(text) { status.textContent = text; }
  function fill(text, args) {
    return text.replace(/\{(\w+)\}/g, function (_m, k) { return args[k] === undefined ? '' : String(args[k]); });
  }

  function render() {
    return GempitaCarry.all().then(function (rows) {
      list.textContent = '';
      none.hidden = rows.length > 0;
      rows.forEach(function (r) {
        var li = d.createElement('li');
        li.className = 'card';
        li.dataset.sha256 = r.sha256;
        li.dataset.state = r.state;
        var what = d.createElement('span');
        what.textContent = r.gateway_id + ' · ' + r.chunk + '/' + r.chunks + ' · ' + fill(T.carry_readings, { n: r.count }) + ' · ';
        var state = d.createElement('strong');
        state.className = 'carry-state';
        state.textContent = T['carry_state_' + r.state];
        li.appendChild(what);
        li.appendChild(state);
        if (r.error) {
          var why = d.createElement('p');
          why.className = 'flash';
          why.setAttribute('role', 'alert');
          why.textContent = r.error;
          li.appendChild(why);
        } else if (r.state === 'delivered' && config.here && r.gateway_id !== config.here) {
          var other = d.createElement('p');
          other.className = 'muted';
          other.textContent = fill(T.carry_not_this_kit, { kit: r.gateway_id });
          li.appendChild(other);
        }
        list.appendChild(li);
      });
    });
  }

  /* The kit is reachable (its Wi-Fi) when its session answer comes back. */
  function kit() {
    return fetch('/kader/bawa/sesi', { credentials: 'same-origin', cache: 'no-store' })
      .then(function (r) { return r.ok ? r.json() : null; }, function () { return null; });
  }

  function postToKit(path, csrf, body) {
    return fetch(path, {
      method: 'POST', credentials: 'same-origin', cache: 'no-store', body: body,
      headers: { 'x-gempita-csrf': csrf, 'content-type': 'application/octet-stream' }
    }).then(function (r) { return r.json().then(function (j) { return { ok: r.ok, body: j }; }); });
  }

  /* Hand every receipt for this kit back to it: the kit marks those readings confirmed. */
  function handBack(session) {
    if (!session || !session.kader) { return Promise.resolve(0); }
    return GempitaCarry.all().then(function (rows) {
      var mine = rows.filter(function (r) { return r.state === 'delivered' && r.gateway_id === session.gateway_id; });
      var confirmed = 0;
      return mine.reduce(function (chain, rec) {
        return chain.then(function () {
          return postToKit('/kader/bawa/kwitansi', session.csrf, rec.receipt).then(function (a) {
            if (a.ok) {
              rec.state = 'confirmed'; rec.confirmed = a.body.confirmed + a.body.already; rec.error = null;
              confirmed += rec.confirmed;
            } else {
              rec.error = a.body.message || a.body.error;
            }
            return GempitaCarry.put(rec);
          });
        });
      }, Promise.resolve()).then(function () {
        if (mine.length) { say(fill(T.carry_handed_back, { n: confirmed })); }
        return confirmed;
      });
    });
  }

  function askSync() {
    if (!registration || !registration.sync) { return Promise.resolve(false); }
    return registration.sync.register(GempitaCarry.SYNC_TAG).then(function () { return true; }, function () { return false; });
  }

  function sendNow() {
    send.disabled = true;
    return GempitaCarry.uploadAll().then(function (done) {
      var parts = [];
      if (done.delivered) { parts.push(T.carry_sent); }
      if (done.refused) { parts.push(T.carry_state_refused + ': ' + done.refused); }
      if (done.failed) { parts.push(T['carry_' + done.failed]); }
      if (parts.length) { say(parts.join(' ')); }
      return render().then(function () { return kit(); }).then(function (s) { return handBack(s); });
    }).then(render).finally(function () { send.disabled = false; });
  }

  function takeNow() {
    take.disabled = true;
    return kit().then(function (session) {
      if (!session || !session.kader) { say(T.carry_err_login); return; }
      return postToKit('/kader/bawa/ambil', session.csrf, null).then(function (a) {
        if (!a.ok) { say(a.body.message || T.carry_err_export); return; }
        var n = a.body.bundles.reduce(function (s, b) { return s + b.count; }, 0);
        if (!n) { say(T.carry_nothing); return; }
        return GempitaCarry.keep(a.body, new Date().toISOString()).then(function () {
          return askSync().then(function (queued) {
            say(fill(T.carry_taken, { n: n }) + (queued ? ' ' + T.carry_sync_registered : '') +
              (secure ? '' : ' ' + T.carry_keep_tab));
          });
        });
      });
    }).then(render).finally(function () { take.disabled = false; });
  }

  /* Without a service worker a closed tab cannot be reopened away from the kit: ask first
     while a bundle is still only carried (the browser shows its own wording). */
  if (!secure) {
    window.addEventListener('beforeunload', function (e) {
      if (list.querySelector('[data-state="carried"]')) { e.preventDefault(); e.returnValue = ''; }
    });
  }

  take.addEventListener('click', takeNow);
  send.addEventListener('click', sendNow);

  if (secure && 'serviceWorker' in navigator) {
    navigator.serviceWorker.addEventListener('message', function (e) {
      if (e.data && e.data.type === 'uploaded') {
        if (e.data.done.delivered) { say(T.carry_sent); }
        render();
      }
    });
    navigator.serviceWorker.register('/kader/bawa/sw.js', { scope: '/kader/bawa/' })
      .then(function () { return navigator.serviceWorker.ready; })
      .then(function (reg) { registration = reg; d.body.dataset.worker = 'ready'; })
      .catch(function () { say(T.carry_no_worker); });
  } else if (secure) {
    say(T.carry_no_worker);
  }

  render().then(kit).then(function (session) {
    config.here = session ? session.gateway_id : null;
    take.hidden = !(session && session.kader);
    return handBack(session);
  }).then(render).then(function () { d.body.dataset.ready = 'yes'; });
})();
