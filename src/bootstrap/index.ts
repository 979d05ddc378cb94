export { initialize, sendCloseSignal, type InitializeOptions } from './initialize';
export { execute } from './execute';
export { placement, describePlacement, type Placement, type PlacementOptions } from './placement';
