console.log("test console asset");
