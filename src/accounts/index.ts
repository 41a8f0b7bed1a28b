export { openAccountDirectory, type AccountDirectory, type AccountEntry } from './directory.ts';
