import type { Rule } from 'eslint';

/** See room-doors.js. */
declare const roomDoors: Rule.RuleModule;
export default roomDoors;
