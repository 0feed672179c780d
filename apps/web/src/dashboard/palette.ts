// Series colours: each 3:1 or more against white (WCAG 1.4.11 for graphics), told apart by the legend's text too.
export const PALETTE = ['#0b5cad', '#b3261e', '#1b7a3a', '#8a4f00', '#6b3fa0', '#00707a', '#a0306e', '#4a5058'] as const;

export const colourOf = (index: number): string => PALETTE[index % PALETTE.length]!;
