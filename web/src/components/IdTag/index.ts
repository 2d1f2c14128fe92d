export { IdTag } from './IdTag';
