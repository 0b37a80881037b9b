/// <reference types="vitest/config" />
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// The Nimbus server in development (`make run`); the console talks to it through this proxy so
// that every request stays same-origin, exactly as when the server serves web/dist itself.
const devServer = 'http://127.0.0.1:8080';
const proxiedPaths = ['/api', '/healthz', '/readyz', '/metrics'];

export default defineConfig({
  plugins: [react()],
  server: {
    proxy: Object.fromEntries(proxiedPaths.map((path) => [path, devServer])),
  },
  build: {
    outDir: 'dist',
    // The server serves dist/assets/* as immutable, so every file there must carry a content hash
    // (Vite's default naming does); index.html is served no-cache.
    assetsDir: 'assets',
    rollupOptions: {
      output: {
        // Libraries change less often than the console, so they get their own long-cached chunks.
        manualChunks(id) {
          if (/node_modules[\\/]@(mui|emotion|popperjs)[\\/]/.test(id)) {
            return 'mui';
          }
          if (
            /node_modules[\\/](react|react-dom|react-router|react-router-dom|@remix-run|react-redux|scheduler|@reduxjs|redux|immer|reselect)[\\/]/.test(
              id,
            )
          ) {
            return 'react';
          }
          return undefined;
        },
      },
    },
  },
  test: {
    environment: 'jsdom',
    setupFiles: ['./src/test/setup.ts'],
    include: ['src/**/*.test.{ts,tsx}'],
    // Whole-console tests click through several lazily loaded pages; on a busy machine that
    // outlasts the default 5 s.
    testTimeout: 20_000,
    restoreMocks: true,
    unstubGlobals: true,
  },
});
