import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatCsv, parseCsv } from './csv.js';
import { readMetadata } from './metadata.js';
import { scanToCsv } from './scan.js';
import { writePng, writeVideo } from './video-io.js';

describe('CSV', () => {
  it('parses quotes, commas and newlines inside fields, and round-trips', () => {
    const t = parseCsv('path,text\r\na.mp4,"hello, ""world""\nsecond line"\nb.mp4,plain\n');
    expect(t.columns).toEqual(['path', 'text']);
    expect(t.records.map((r) => r.values)).toEqual([
      ['a.mp4', 'hello, "world"\nsecond line'],
      ['b.mp4', 'plain'],
    ]);
    expect(t.records[1]!.line).toBe(4);
    const again = parseCsv(formatCsv(['path', 'text'], [{ path: 'a.mp4', text: 'x, "y"\nz' }]));
    expect(again.records[0]!.values).toEqual(['a.mp4', 'x, "y"\nz']);
  });
});

describe('metadata', () => {
  const dir = mkdtempSync(join(tmpdir(), 'opensora-data-meta-'));
  mkdirSync(join(dir, 'clips'));
  for (const n of ['a.mp4', 'b.mp4', 'c.png']) writeFileSync(join(dir, 'clips', n), 'x');

  it('resolves relative paths, reports every bad row with its number and reason, and filters', async () => {
    const csv = join(dir, 'meta.csv');
    writeFileSync(
      csv,
      [
        'path,text,num_frames,height,width,aes,flow,cmotion',
        'clips/a.mp4,a cat,60,360,640,5.5,3.0,static', // 1 ok
        'clips/missing.mp4,gone,60,360,640,5.5,3.0,static', // 2 missing file
        'clips/b.mp4,bad,sixty,360,640,5.5,3.0,static', // 3 bad number
        'clips/b.mp4,zero,0,360,640,5.5,3.0,static', // 4 zero frames
        'clips/c.png,an image,1,480,480,4.0,0.1,static', // 5 filtered by aes
        'clips/b.mp4,ok too,120.0,720,1280,6,,pan_left', // 6 ok (empty flow is allowed)
        'clips/b.mp4,short row,5', // 7 bad row
        'clips/b.txt,odd,5,10,10,5,5,static', // 8 unsupported
        `${join(dir, 'clips', 'a.mp4')},absolute,30,360,640,5,1,static`, // 9 ok
      ].join('\n'),
    );
    const m = await readMetadata(csv, { filters: { aes: { min: 4.5 } } });
    expect(m.rows.map((r) => r.row)).toEqual([1, 6, 9]);
    expect(m.rows.map((r) => r.id)).toEqual([0, 1, 2]);
    expect(m.rows[0]!.path).toBe(join(dir, 'clips', 'a.mp4'));
    expect(m.rows[1]!.numFrames).toBe(120);
    expect(m.rows[1]!.flow).toBeUndefined();
    expect(m.filtered).toBe(1);
    expect(m.filteredBy).toEqual({ aes: 1 });
    const two = await readMetadata(csv, { filters: { aes: { min: 5.2 }, cmotion: { in: ['static'] } } });
    expect(two.filteredBy).toEqual({ aes: 2, cmotion: 1 }); // rows 5 (aes 4.0) and 9 (aes 5); row 6 is pan_left
    expect(two.filtered).toBe(3);
    expect(m.report.skipped.map((s) => [s.row, s.reason])).toEqual([
      [2, 'missing file'],
      [3, 'bad number'],
      [4, 'zero frames'],
      [7, 'bad row'],
      [8, 'unsupported'],
    ]);
    expect(m.report.lines()[1]).toMatch(/^row 3 \(clips\/b.mp4\): bad number: column num_frames is 'sixty'/);
    expect(m.report.summary()).toMatch(/skipped 5: 1 missing file, 1 bad number, 1 zero frames, 1 bad row, 1 unsupported/);
    await expect(readMetadata(csv, { filters: { nope: { min: 1 } } })).rejects.toThrow(/filter on column 'nope'/);
  });

  it('names missing columns', async () => {
    const csv = join(dir, 'bad.csv');
    writeFileSync(csv, 'path,text\na.mp4,x\n');
    await expect(readMetadata(csv)).rejects.toThrow(/missing column\(s\) num_frames, height, width/);
  });

  it('scans a folder of videos and images with ffprobe, reporting unreadable files', async () => {
    const media = join(dir, 'media');
    mkdirSync(join(media, 'sub'), { recursive: true });
    const fr = new Uint8Array(5 * 16 * 24 * 3).fill(100);
    await writeVideo(join(media, 'sub', 'v.mp4'), fr, 5, 16, 24, { fps: 10 });
    await writePng(join(media, 'i.png'), fr.subarray(0, 16 * 24 * 3), 16, 24);
    writeFileSync(join(media, 'broken.mp4'), 'not a video');
    const csv = join(dir, 'scan.csv');
    const r = await scanToCsv(media, csv);
    expect(r.report.skipped.map((s) => [s.path, s.reason])).toEqual([['media/broken.mp4', 'unreadable']]);
    const m = await readMetadata(csv);
    expect(m.rows.map((x) => [x.fields.path, x.numFrames, x.height, x.width, x.fps])).toEqual([
      ['media/i.png', 1, 16, 24, 120],
      ['media/sub/v.mp4', 5, 16, 24, 10],
    ]);
    expect(m.columns).toEqual(['path', 'text', 'num_frames', 'height', 'width', 'aspect_ratio', 'resolution', 'fps']);
  });
});
