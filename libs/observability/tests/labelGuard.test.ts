import { describe, expect, it } from 'vitest';
import { LabelGuard } from '@correio/observability';

describe('LabelGuard', () => {
  it('passes the first `limit` distinct values, always the same ones, and folds later ones into other', () => {
    const guard = new LabelGuard(2);
    expect(guard.label('echo')).toBe('echo');
    expect(guard.label('time')).toBe('time');
    expect(guard.label('chat')).toBe('other');
    expect(guard.label('echo')).toBe('echo');
    expect(guard.label('time')).toBe('time');
    expect(guard.label('chat')).toBe('other');
  });

  it('allows 256 values unless told otherwise', () => {
    const guard = new LabelGuard();
    const labels = Array.from({ length: 300 }, (_, i) => guard.label(`service-${i}`));
    expect(new Set(labels).size).toBe(257);
    expect(labels[255]).toBe('service-255');
    expect(labels[256]).toBe('other');
  });

  it('gives a released place to the next new value; releasing a value without a place changes nothing', () => {
    const guard = new LabelGuard(2);
    guard.label('gone');
    guard.label('kept');
    expect(guard.label('late')).toBe('other');
    expect(guard.release('other-never-labelled')).toBe(false);
    expect(guard.label('late')).toBe('other');
    expect(guard.release('gone')).toBe(true);
    expect(guard.release('gone')).toBe(false);
    expect(guard.label('late')).toBe('late');
    expect(guard.label('gone')).toBe('other');
    expect(guard.label('kept')).toBe('kept');
  });
});
