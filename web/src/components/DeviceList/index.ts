export { DeviceList } from './DeviceList';
