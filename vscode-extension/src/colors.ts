/** Number of peer colors contributed as ensemble.peer0 ... ensemble.peer7 (see package.json). */
export const PALETTE_SIZE = 8;

function slot(index: number): number {
  return ((index % PALETTE_SIZE) + PALETTE_SIZE) % PALETTE_SIZE;
}

/** Theme color id of a peer's caret, name tag and ruler mark. */
export function colorId(index: number): string {
  return `ensemble.peer${slot(index)}`;
}

/** Theme color id of a peer's selection background. */
export function selectionColorId(index: number): string {
  return `ensemble.peer${slot(index)}Selection`;
}
