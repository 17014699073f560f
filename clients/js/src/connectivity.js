// The browser's own idea of being online: no point reconnecting while it says offline,
// and every reason to reconnect at once when it comes back.

/**
 * Call `onOffline`/`onOnline` on the window's events; returns a function that stops.
 * Outside a browser (no window) it does nothing.
 */
export function watchConnectivity({ onOffline, onOnline }) {
  const target = globalThis.window;
  if (!target?.addEventListener) return { isOffline: false, stop() {} };
  target.addEventListener('offline', onOffline);
  target.addEventListener('online', onOnline);
  return {
    isOffline: globalThis.navigator?.onLine === false,
    stop() {
      target.removeEventListener('offline', onOffline);
      target.removeEventListener('online', onOnline);
    },
  };
}
