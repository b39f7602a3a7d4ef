/** The page's entry point: jitless zod first (strict CSP), then the app. */
import './jitless.js';
import { startApp } from './app.js';

startApp(document);
