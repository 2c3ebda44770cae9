// Starts kinesalite (in memory) on 127.0.0.1 only: its own CLI listens on all interfaces.
// Usage: NODE_PATH=<dir>/node_modules node tests/servers/kinesalite.js PORT
const kinesalite = require('kinesalite');
const port = parseInt(process.argv[2], 10);
const server = kinesalite({ createStreamMs: 0, deleteStreamMs: 0, updateStreamMs: 0, shardLimit: 100 });
server.listen(port, '127.0.0.1', (err) => {
  if (err) { console.error(err); process.exit(1); }
  console.log('kinesalite listening on 127.0.0.1:' + port);
});
