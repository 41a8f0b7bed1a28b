export { startLogsGateway, type LogsGateway, type LogsGatewayOptions } from './gateway.ts';
export { lokiRoute, type RouteVerdict } from './routes.ts';
