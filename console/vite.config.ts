import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// Served by the gateway under /console/ (deploy/gateway/routes.conf); the API is on the same origin.
export default defineConfig({
  base: "/console/",
  plugins: [react()],
  build: { outDir: "dist", emptyOutDir: true, chunkSizeWarningLimit: 1500 },
});
