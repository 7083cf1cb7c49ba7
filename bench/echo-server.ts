import Fastify from 'fastify';

/** The bare baseline: a Fastify route that echoes its JSON body, nothing else. */
const app = Fastify({ logger: false });
app.post('/echo', async (request) => request.body);
app.listen({ port: Number(process.env.PORT ?? 18090), host: '127.0.0.1' }).then(
  () => process.send?.('ready'),
  (err) => {
    process.stderr.write(`${String(err)}\n`);
    process.exit(1);
  },
);
