export { Attachments, FileCard } from './Attachments';
