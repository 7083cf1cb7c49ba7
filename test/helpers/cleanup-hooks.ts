// Loaded before every test file (jest setupFilesAfterEnv): see ./cleanup.ts.
import { fileEnded, testEnded, testStarts } from './cleanup';

beforeEach(testStarts);
afterEach(testEnded);
afterAll(fileEnded);
