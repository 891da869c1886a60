import { describe, expect, it } from 'vitest';
import {
  formatChange,
  formatMs,
  formatNumber,
  formatShare,
  formatUsd,
} from '../../../src/domain/drift/format.js';

describe('numbers in alert messages', () => {
  it('show three significant digits, grouped', () => {
    expect(formatNumber(0.020512)).toBe('0.0205');
    expect(formatNumber(1.4512)).toBe('1.45');
    expect(formatNumber(123_456.7)).toBe('123,457');
  });

  it('show a figure too small for fixed digits in scientific form rather than failing', () => {
    expect(formatNumber(5e-324)).toBe('4.94e-324');
    expect(formatUsd(1e-9)).toBe('$1.00e-9');
  });

  it('show money, shares, milliseconds and changes', () => {
    expect(formatUsd(1234.5)).toBe('$1,235');
    expect(formatUsd(0.357)).toBe('$0.357');
    expect(formatShare(0.032)).toBe('3.2%');
    expect(formatMs(2896)).toBe('2,896 ms');
    expect(formatChange(250, 100)).toBe('150%');
    expect(formatChange(5, 0)).toBe('from zero');
  });
});
