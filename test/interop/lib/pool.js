'use strict';
// Runs async functions with a bound on how many run at once (the differential tests drive
// many cases through one Collector and a few kotel tool processes).

// The results of fns (functions returning promises), in order, with at most `n` running at once.
async function pool(fns, n) {
  const out = new Array(fns.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < fns.length) {
        const k = next++;
        out[k] = await fns[k]();
      }
    }),
  );
  return out;
}

module.exports = { pool };
