export { NotificationOffer, NotificationSettings } from './NotificationSettings';
