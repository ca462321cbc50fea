/* The carry page's service worker: keeps the page while the phone is away from the kit, and
   uploads the carried bundles by Background Sync once the phone is online. */
importScripts('/kader/bawa/carry_db.js');

var CACHE = 'gempita-carry-v1';
var SHELL = ['/kader/bawa/', '/kader/bawa/carry_db.js', '/kader/bawa/carry.js'];

self.addEventListener('install', function (event) {
  event.waitUntil(caches.open(CACHE).then(function (c) { return c.addAll(SHELL); }).then(function () { return self.skipWaiting(); }));
});

self.addEventListener('activate', function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (n) { return n !== CACHE; }).map(function (n) { return caches.delete(n); }));
  }).then(function () { return self.clients.claim(); }));
});

self.addEventListener('fetch', function (event) {
  var url = new URL(event.request.url);
  if (event.request.method !== 'GET' || url.origin !== self.location.origin || SHELL.indexOf(url.pathname) < 0) { return; }
  // The kit first (a fresh page on its Wi-Fi), the kept copy when the kit is out of reach.
  event.respondWith(fetch(event.request).then(function (resp) {
    if (resp.ok) { var copy = resp.clone(); caches.open(CACHE).then(function (c) { return c.put(url.pathname, copy); }); }
    return resp;
  }).catch(function () {
    return caches.match(url.pathname).then(function (kept) { return kept || Response.error(); });
  }));
});

function tell(message) {
  return self.clients.matchAll({ includeUncontrolled: true }).then(function (list) {
    list.forEach(function (c) { c.postMessage(message); });
  });
}

self.addEventListener('sync', function (event) {
  if (event.tag !== GempitaCarry.SYNC_TAG) { return; }
  event.waitUntil(GempitaCarry.uploadAll().then(function (done) {
    return tell({ type: 'uploaded', done: done, by: 'sync' }).then(function () {
      // Rejecting asks the browser to fire the sync again later.
      if (done.failed) { throw new Error(done.failed); }
    });
  }));
});
