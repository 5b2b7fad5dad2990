/* SPDX-License-Identifier: BSD-2-Clause */
/* track.esm.js: track.js as an ES module.
 *   import track from '/tracker/track.esm.js';
 * (an `export` in track.js itself would break it as a classic script) */
import './track.js';

const track = globalThis.track;

export default track;
export const createTracker = track.create;
