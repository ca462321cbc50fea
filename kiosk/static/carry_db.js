/* The bundles a kader's phone carries, kept in IndexedDB on the kit's origin.
   Shared by the page (carry.js) and the service worker (sw.js), so Background Sync and the
   "Kirim sekarang" button upload the same way and leave the same record behind. */
var GempitaCarry = (function () {
  'use strict';
  var DB = 'gempita-carry', STORE = 'bundles';

  function open() {
    return new Promise(function (resolve, reject) {
      var req = indexedDB.open(DB, 1);
      req.onupgradeneeded = function () { req.result.createObjectStore(STORE, { keyPath: 'sha256' }); };
      req.onsuccess = function () { resolve(req.result); };
      req.onerror = function () { reject(req.error); };
    });
  }

  function run(mode, work) {
    return open().then(function (db) {
      return new Promise(function (resolve, reject) {
        var tx = db.transaction(STORE, mode), out;
        var store = tx.objectStore(STORE);
        out = work(store);
        // Resolved only once the transaction is durable: the phone may lose power next.
        tx.oncomplete = function () { db.close(); resolve(out && 'result' in out ? out.result : undefined); };
        tx.onerror = function () { db.close(); reject(tx.error); };
        tx.onabort = function () { db.close(); reject(tx.error); };
      });
    });
  }

  function all() {
    return run('readonly', function (s) { return s.getAll(); }).then(function (rows) {
      return (rows || []).sort(function (a, b) { return a.taken_at < b.taken_at ? -1 : a.taken_at > b.taken_at ? 1 : a.chunk - b.chunk; });
    });
  }

  function put(rec) { return run('readwrite', function (s) { return s.put(rec); }); }

  function fromBase64(text) {
    var raw = atob(text), bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) { bytes[i] = raw.charCodeAt(i); }
    return bytes.buffer;
  }

  /* Add the bundles the kit handed over; a bundle already kept is left as it is. */
  function keep(answer, takenAt) {
    return all().then(function (rows) {
      var have = {};
      rows.forEach(function (r) { have[r.sha256] = true; });
      var fresh = answer.bundles.filter(function (b) { return !have[b.sha256]; });
      return Promise.all(fresh.map(function (b) {
        return put({
          sha256: b.sha256, name: b.name, count: b.count, chunk: b.chunk, chunks: b.chunks,
          export_id: b.export_id, gateway_id: answer.gateway_id, central_url: answer.central_url,
          data: fromBase64(b.data), state: 'carried', taken_at: takenAt, receipt: null,
          error: null, confirmed: null
        });
      })).then(function () { return fresh.length; });
    });
  }

  /* Upload one carried bundle. Resolves 'delivered' or 'refused' (recorded), or rejects with
     'offline' / 'central_down' (nothing changes: the bundle stays carried). */
  function upload(rec) {
    return fetch(rec.central_url, {
      method: 'POST', body: rec.data, mode: 'cors', credentials: 'omit', cache: 'no-store',
      headers: { 'content-type': 'application/octet-stream' }
    }).then(function (resp) {
      if (resp.ok) {
        return resp.arrayBuffer().then(function (receipt) {
          rec.state = 'delivered'; rec.receipt = receipt; rec.error = null;
          return put(rec).then(function () { return 'delivered'; });
        });
      }
      if (resp.status >= 400 && resp.status < 500) {
        return resp.json().catch(function () { return {}; }).then(function (body) {
          rec.state = 'refused'; rec.error = body.error || ('HTTP ' + resp.status);
          return put(rec).then(function () { return 'refused'; });
        });
      }
      throw new Error('central_down');
    }, function () {
      throw new Error(self.navigator && self.navigator.onLine === false ? 'offline' : 'central_down');
    });
  }

  /* Upload every carried bundle, one after the other (a phone's link is thin). */
  function uploadAll() {
    return all().then(function (rows) {
      var todo = rows.filter(function (r) { return r.state === 'carried'; });
      var done = { delivered: 0, refused: 0, failed: null };
      return todo.reduce(function (chain, rec) {
        return chain.then(function () {
          if (done.failed) { return; }
          return upload(rec).then(function (result) { done[result] += 1; },
            function (err) { done.failed = err.message; });
        });
      }, Promise.resolve()).then(function () { return done; });
    });
  }

  return { all: all, put: put, keep: keep, upload: upload, uploadAll: uploadAll, SYNC_TAG: 'gempita-upload' };
})();
