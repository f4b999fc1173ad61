// Parses an initialization segment and fragments with mp4box.js (GPAC's JavaScript MP4
// parser), fed one file at a time as a player would fetch them, and prints JSON: the movie
// info (brands, tracks, codec strings), every track's samples, and every error or warning
// mp4box.js reported.
//
// Usage: node probe.mjs INIT [FRAGMENT...]

import { readFileSync } from 'node:fs';
import { createFile, Log, MP4BoxBuffer } from 'mp4box';

const errors = [];
const warnings = [];
console.error = (...args) => errors.push(args.join(' '));
console.warn = (...args) => warnings.push(args.join(' '));
Log.setLogLevel(Log.warn);

const file = createFile();
file.onError = (module, msg) => errors.push(`${module}: ${msg}`);
let info = null;
file.onReady = (i) => {
  info = i;
};

let offset = 0;
for (const path of process.argv.slice(2)) {
  const data = readFileSync(path);
  const ab = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength);
  file.appendBuffer(MP4BoxBuffer.fromArrayBuffer(ab, offset));
  offset += data.byteLength;
}
file.flush();

const tracks = (info?.tracks ?? []).map((t) => ({
  id: t.id,
  type: t.type,
  codec: t.codec,
  timescale: t.timescale,
  // Counted after the last fragment (getInfo() runs when the moov is parsed).
  nb_samples: file.getTrackSamplesInfo(t.id)?.length ?? 0,
  width: t.video?.width ?? null,
  height: t.video?.height ?? null,
  sample_rate: t.audio?.sample_rate ?? null,
  channel_count: t.audio?.channel_count ?? null,
}));
const samples = {};
for (const t of tracks) {
  samples[t.id] = (file.getTrackSamplesInfo(t.id) ?? []).map((s) => ({
    dts: s.dts,
    cts: s.cts,
    duration: s.duration,
    size: s.size,
    is_sync: s.is_sync,
  }));
}
process.stdout.write(
  JSON.stringify({
    errors,
    warnings,
    fragmented: info?.isFragmented ?? null,
    brands: info?.brands ?? [],
    mime: info?.mime ?? null,
    tracks,
    samples,
  }) + '\n',
);
