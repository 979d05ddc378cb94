export { initialize, sendCloseSignal, type InitializeOptions } from './initialize';
