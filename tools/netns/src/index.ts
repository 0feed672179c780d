export { NetworkLab, type LabHost, type NetworkLabOptions } from './NetworkLab.js';
